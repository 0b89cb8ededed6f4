"""The SMTP conversation's decisions: who may send, which recipients are refused, and what the
reply to DATA is. A 250 after DATA means what the API's 202 means: the email is stored durably.

Codes are RFC 5321's basic codes with RFC 3463's enhanced status codes:

    235 2.7.0   authenticated                     535 5.7.8  wrong or revoked API key
    530 5.7.0   MAIL before AUTH (no relay)        538 5.7.11 AUTH on a plain remote connection
    250 2.1.5   recipient taken                   550 5.1.1  recipient address refused
    550 5.7.1   recipient on the suppression list 452 4.5.3  too many recipients
    451 4.7.1   the key is over its sending limit 451 4.3.0  storage unavailable, retry
    452 4.3.1   storage full, retry               554 5.6.0  message unreadable or invalid
    552 5.3.4   message too large                 250 2.0.0  queued as <id>
"""

import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from postroom.domain.address import AddressError
from postroom.domain.errors import InvalidEmailError, StorageFullError, StorageUnavailableError
from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.limits import Verdict
from postroom.logs import RateLimitedLog, get_logger, log_event
from postroom.ports.keys import ApiKey
from postroom.ports.queue import PutOutcome
from postroom.services.submit import IdempotencyConflictError, Submitted
from postroom.smtp import auth
from postroom.smtp.parse import MessageError, parse_message

log = get_logger("smtp")
# At most this many field errors are listed in a 554 reply, one per line.
_MAX_ERROR_LINES = 10
_UNPRINTABLE = re.compile(r"[^ -~]")


@dataclass
class SmtpIntake:
    """What the SMTP server needs from the composition root: the API's own intake parts."""

    # (request data, idempotency key, owner key id, tenant), as the HTTP intake calls it.
    submit: Callable[[Any, str | None, str, str], Awaitable[Submitted]]
    # The bare address a RCPT TO names, read as the intake reads a recipient; AddressError.
    check_address: Callable[[str], str]
    max_recipients: int
    # The caller's key from an Authorization header value; None: no AUTH needed (development).
    authenticate: auth.Authenticate | None = None
    # Takes one email from a key's sending budget; None sets no limits.
    limit: Callable[[str], Awaitable[Verdict]] | None = None
    # The positions of addresses a tenant's suppression list blocks (for these tags).
    blocked: Callable[[str, Sequence[str], Collection[str]], Awaitable[set[int]]] | None = None


class SubmissionHandler:
    """aiosmtpd's handler hooks over an SmtpIntake. The session's `auth_data` is the ApiKey."""

    def __init__(self, intake: SmtpIntake) -> None:
        self.intake = intake
        # A storage outage fails every message alike: one line per 10 s, with a count.
        self._rarely = RateLimitedLog()

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Offer AUTH only where it would be taken: TLS, or a client on this machine."""
        session.host_name = hostname
        if auth.auth_allowed(server, session):
            return responses
        return [line for line in responses if not line[4:].startswith("AUTH")]

    async def handle_AUTH(
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> str | None:
        """PLAIN or LOGIN with an API key as the password; None when a reply was already sent."""
        if not auth.auth_allowed(server, session):
            return auth.NEEDS_TLS
        if self.intake.authenticate is None:
            return "503 5.5.1 Authentication is off on this server; send without AUTH"
        secret = await auth.password(server, args)
        if secret is None:
            return None
        try:
            key = await self.intake.authenticate(auth.bearer(secret))
        except StorageUnavailableError:
            return auth.UNAVAILABLE
        if key is None:
            log_event(log, "auth.refused", code=535)
            return auth.INVALID
        session.authenticated = True
        # aiosmtpd keeps whatever identity the mechanism yields here (typed as None).
        session.auth_data = key  # type: ignore[assignment]
        return auth.OK

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """The sending budget is taken per message, here, before anything is read."""
        owner, _ = _owner(session)
        if self.intake.limit is not None:
            verdict = await self.intake.limit(owner)
            if not verdict.allowed:
                log_event(log, "email.rate_limited", code=451)
                wait = max(1, math.ceil(verdict.retry_after))
                return f"451 4.7.1 This API key is over its sending limit; retry in {wait} s"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Refuse each recipient that could never be sent to, so the client knows at once."""
        if len(envelope.rcpt_tos) >= self.intake.max_recipients:
            # RFC 5321 4.5.3.1.10: 452, so the client sends the rest in another transaction.
            return f"452 4.5.3 Too many recipients: at most {self.intake.max_recipients}"
        try:
            bare = self.intake.check_address(address)
        except AddressError as error:
            # X.1.1 "bad destination mailbox address": no mailbox by this address will be sent to.
            return _line(f"550 5.1.1 Recipient address refused: {error}")
        except UnicodeError:  # SMTPUTF8 bytes that are not UTF-8
            return "550 5.1.1 Recipient address refused: not UTF-8"
        if await self._suppressed(session, bare):
            # X.7.1 "delivery not authorized, message refused": the address exists, but its
            # owner bounced or complained, so policy forbids sending to it.
            return "550 5.7.1 Recipient is on the suppression list; not sent to"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"

    async def _suppressed(self, session: Session, address: str) -> bool:
        """Entries for every email ("*" scope) only: tags come with the message, and
        SubmitEmail and the worker check scoped entries. A failed lookup tells nothing."""
        if self.intake.blocked is None:
            return False
        _, tenant = _owner(session)
        try:
            return bool(await self.intake.blocked(tenant, [address], ()))
        except StorageUnavailableError:
            return False

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Parse, validate and store; 250 only once the email is durable."""
        started = time.perf_counter()
        raw = envelope.original_content or b""
        try:
            parsed = parse_message(raw, envelope.mail_from or "", envelope.rcpt_tos)
        except MessageError as error:
            log_event(log, "email.rejected", code=554, cause="mime")
            return _line(f"554 5.6.0 {error}")
        owner, tenant = _owner(session)
        try:
            submitted = await self.intake.submit(parsed.data, parsed.message_id, owner, tenant)
        except InvalidEmailError as error:
            log_event(log, "email.rejected", code=554, fields=_top_level(error.errors))
            return _invalid(error.errors)
        except IdempotencyConflictError:
            log_event(log, "email.rejected", code=554, cause="message_id_reused")
            return "554 5.6.0 This Message-ID was used in the last 24 hours for another message"
        except StorageUnavailableError as error:
            self._rarely(
                log, "email.storage_unavailable", logging.ERROR, error=type(error).__name__
            )
            if isinstance(error, StorageFullError):
                return "452 4.3.1 Storage is full; nothing was accepted, try again later"
            return "451 4.3.0 Storage unavailable; nothing was accepted, try again later"
        return self._queued(submitted, started)

    def _queued(self, submitted: Submitted, started: float) -> str:
        result = submitted.result
        created = result.outcome is PutOutcome.CREATED
        log_event(
            log,
            "email.accepted" if created else "email.duplicate",
            id=result.id,
            state=result.state,
            via="smtp",
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
        # A repeat (the same Message-ID after a dropped connection) gets the first id.
        return f"250 2.0.0 Ok: queued as {result.id}"

    async def handle_exception(self, error: Exception) -> str:
        """A bug, never the client's message: nothing was accepted, so the client retries."""
        log.error("smtp.unhandled_error", exc_info=error)
        return "451 4.3.0 Local error; nothing was accepted, try again later"


def _owner(session: Session) -> tuple[str, str]:
    key = session.auth_data
    if isinstance(key, ApiKey):
        return key.id, key.tenant
    return "", DEFAULT_TENANT  # authentication is off


def _invalid(errors: dict[str, str]) -> str:
    """A multi-line 554 naming every bad field, as the API's 400 lists them."""
    lines = [f"{path}: {reason}" for path, reason in list(errors.items())[:_MAX_ERROR_LINES]]
    replies = ["Invalid email:", *lines]
    return "\r\n".join(
        _line(f"554{'-' if n < len(replies) - 1 else ' '}5.6.0 {text}")
        for n, text in enumerate(replies)
    )


def _line(text: str) -> str:
    """One reply line: printable ASCII (the client's own words may be in it), at most 512
    octets with its CRLF (RFC 5321 4.5.3.1.5)."""
    return _UNPRINTABLE.sub("?", text)[:510]


def _top_level(errors: dict[str, str]) -> list[str]:
    """The request fields at fault, never header names or metadata keys (client text)."""
    return sorted({re.split(r"[.\[]", path, maxsplit=1)[0] for path in errors})
