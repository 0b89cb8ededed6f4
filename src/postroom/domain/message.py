"""The email as Postroom holds it: validated, normalised, independent of any wire format."""

from dataclasses import dataclass, field

from postroom.domain.values import quick_init


@quick_init
@dataclass(frozen=True)
class Address:
    email: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes
    # Set for an inline part referenced from the HTML as cid:<content_id>.
    content_id: str = ""


@quick_init
@dataclass(frozen=True)
class Email:
    sender: Address
    to: tuple[Address, ...]
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    subject: str = ""
    text: str = ""
    html: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[Attachment, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = field(default=())
    # Set at intake from the API key, never from the request: whose suppression list applies.
    tenant: str = ""
    # Set at intake for a templated send: the template's id and the version rendered.
    template_id: str = ""
    template_version: int = 0

    def recipients(self) -> tuple[Address, ...]:
        """Every envelope recipient: to, cc and bcc."""
        return self.to + self.cc + self.bcc


@dataclass(frozen=True, slots=True)
class Limits:
    """What one email may hold. Defaults sit inside every supported provider's own limits."""

    max_recipients: int = 1000
    max_subject_chars: int = 998
    max_name_chars: int = 256
    max_headers: int = 50
    max_header_value_chars: int = 998
    max_attachments: int = 100
    max_tags: int = 10
    max_tag_chars: int = 128
    max_metadata: int = 50
    max_metadata_chars: int = 1000
    max_schedule_seconds: int = 30 * 24 * 3600
