"""Errors the core and the ports share."""


class InvalidEmailError(ValueError):
    """A submission broke the contract; `errors` maps each bad field's path to the reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class StorageUnavailableError(RuntimeError):
    """Storage could not be reached or written; nothing was stored. The API answers 503."""


class StorageFullError(StorageUnavailableError):
    """Storage refused the write for lack of space (disk or configured size limit)."""


class ProviderError(Exception):
    """A provider did not take an email.

    `code` is safe for logs and metrics ("http_503", "smtp_550", "timeout"). `detail` is what the
    provider said; providers echo addresses back, so it goes into the email's events (which only
    its sender can read) and never into a log.
    """

    def __init__(self, code: str, detail: str = "", retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


class PermanentError(ProviderError):
    """The email itself was refused (bad recipient, payload rejected): no provider will take it."""


class UnsupportedError(PermanentError):
    """This provider cannot express the email (too many tags, a header it reserves); another
    provider may. Raised before any request, so nothing was sent."""

    def __init__(self, detail: str) -> None:
        super().__init__("unsupported", detail)


class ThrottledError(ProviderError):
    """The provider asked us to slow down (429, SMTP 4xx); `retry_after` when it said so."""


class MisconfiguredError(ProviderError):
    """Our credentials or account were refused (401/403): this provider is unusable until fixed."""


class ProviderDownError(ProviderError):
    """5xx, timeout or connection failure: the provider is unhealthy, the email may be fine."""


class OutcomeUnknownError(ProviderDownError):
    """The whole request went out and no answer came back in time: the provider may have taken
    the email. Counted like a provider down, but not failed over (docs/reliability.md)."""


class CipherError(ValueError):
    """Stored content cannot be opened: its key is not configured, or it was altered."""
