"""What `postroom emails` and `postroom stats` read, over the configured storage: the list of a
tenant's emails (addresses keyed as the server keys them), an email's status with its
recipients (content opened as the server opens it)."""

from collections.abc import Callable
from dataclasses import dataclass

from postroom.ports.storage import Storage
from postroom.services.addresses import UNKEYED, AddressKeys
from postroom.services.content import Content
from postroom.services.email_list import EmailList
from postroom.services.recipients import Recipients
from postroom.settings import Settings


@dataclass(frozen=True, slots=True)
class EmailViews:
    storage: Storage  # the caller closes it
    listing: EmailList
    # Each recipient's story and the derived state; None: the store keeps no events.
    recipients: Recipients | None
    open_text: Callable[[str, str], str]


def open_email_views(settings: Settings) -> EmailViews:
    # Imported here: the package imports this module's neighbours.
    from postroom.bootstrap import open_cipher, open_storage

    storage = open_storage(settings)
    content = Content(open_cipher(settings))
    keys = AddressKeys(content, settings.address_key.encode() or UNKEYED)
    recipients = Recipients(storage.events, storage.emails, content) if storage.events else None
    return EmailViews(storage, EmailList(storage.emails, keys), recipients, content.open_text)
