"""The development provider: each email becomes an .eml file in a folder, with its envelope.

The .eml holds exactly the bytes the SMTP provider sends (providers/mime.py) to a server that
offers 8BITMIME and SMTPUTF8: 8-bit bodies, header values as RFC 2047 encoded words and
non-ASCII file names as RFC 2231 parameters unless an address has a non-ASCII local part (then
the message is SMTPUTF8, raw UTF-8 headers). `<id>.json` beside it holds what the message
itself does not: the envelope sender, every recipient (bcc included), tags and metadata.

Both files are written aside, fsynced and renamed into place, the .json first: a reader that
waits for `<id>.eml` always finds its `<id>.json`, and never half of either.
"""

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from postroom.domain.errors import PermanentError, ProviderDownError
from postroom.ports.provider import Outgoing, Probe, Receipt
from postroom.providers.base import BaseProvider
from postroom.providers.mime import Envelope, envelope, render, wire_bytes


@dataclass(frozen=True, slots=True)
class OutboxFiles:
    """The pair of files one email becomes."""

    email_id: str
    envelope: bytes
    message: bytes


class OutboxProvider(BaseProvider[OutboxFiles, str]):
    name = "outbox"

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.folder = folder

    def __repr__(self) -> str:
        return f"OutboxProvider({self.folder})"

    @classmethod
    def from_url(cls, url: str) -> "OutboxProvider":
        """`outbox://./outbox` (relative) or `outbox:///var/mail/outbox` (absolute)."""
        parts = urlsplit(url)
        path = parts.netloc + parts.path
        if not path:
            raise ValueError("outbox: expected outbox://PATH")
        return cls(Path(path))

    def build(self, outgoing: Outgoing, now: float) -> OutboxFiles:
        try:
            wire = envelope(outgoing.email)
            data = wire_bytes(render(outgoing, now), utf8=wire.utf8, eight_bit=True)
        except ValueError as error:  # a header the wire cannot carry
            raise PermanentError("invalid_message", type(error).__name__) from None
        return OutboxFiles(outgoing.id, envelope_json(outgoing, wire), data)

    async def transmit(self, request: OutboxFiles) -> str:
        """Write both files; the .eml's name is the answer. A failed write is the folder down."""
        try:
            await asyncio.to_thread(self._write, request)
        except OSError as error:
            raise ProviderDownError("outbox_write", type(error).__name__) from None
        return f"{request.email_id}.eml"

    def parse(self, answer: str) -> Receipt:
        return Receipt(self.name, answer)

    def _write(self, files: OutboxFiles) -> None:
        # A resend of the same id replaces both files instead of adding a second pair.
        self.folder.mkdir(parents=True, exist_ok=True)
        _put(self.folder, f"{files.email_id}.json", files.envelope)
        _put(self.folder, f"{files.email_id}.eml", files.message)

    async def probe(self) -> Probe:
        """The folder exists (or can be made) and takes a file."""
        try:
            await asyncio.to_thread(self._try_write)
        except OSError as error:
            cause = error.strerror or type(error).__name__
            return Probe(False, "down", f"outbox_write: {self.folder}: {cause}")
        return Probe(True)

    def _try_write(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        check = self.folder / f".probe-{os.getpid()}.tmp"
        check.write_bytes(b"")
        check.unlink()


def envelope_json(outgoing: Outgoing, wire: Envelope) -> bytes:
    """The envelope file: what receivers see only from the SMTP transaction, and ours."""
    email = outgoing.email
    body = {
        "id": outgoing.id,
        "messageId": outgoing.message_id,
        "sender": wire.sender,
        "recipients": list(wire.recipients),
        "bcc": [wire.recipients[len(email.to) + len(email.cc) + n] for n in range(len(email.bcc))],
        "tags": list(email.tags),
        "metadata": dict(email.metadata),
    }
    return json.dumps(body, ensure_ascii=False, indent=2).encode() + b"\n"


def _put(folder: Path, name: str, data: bytes) -> None:
    """Write aside, fsync, rename: the file appears whole or not at all."""
    temporary = folder / f".{name}.tmp"
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, folder / name)
