"""The development provider: each email becomes an .eml file in a folder, written atomically."""

import asyncio
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

from postroom.domain.errors import ProviderDownError
from postroom.ports.provider import Outgoing, Receipt
from postroom.providers.mime import render


class OutboxProvider:
    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def from_url(cls, url: str) -> "OutboxProvider":
        """`outbox://./outbox` (relative) or `outbox:///var/mail/outbox` (absolute)."""
        parts = urlsplit(url)
        path = parts.netloc + parts.path
        if not path:
            raise ValueError("expected outbox://PATH")
        return cls(Path(path))

    async def send(self, outgoing: Outgoing) -> Receipt:
        data = render(outgoing, time.time()).as_bytes()
        try:
            await asyncio.to_thread(self._write, outgoing.id, data)
        except OSError as error:
            raise ProviderDownError("outbox_write", type(error).__name__) from None
        return Receipt(self.name, f"{outgoing.id}.eml")

    def _write(self, email_id: str, data: bytes) -> None:
        # Write aside, fsync, then rename: a reader never sees half a file, and a resend of the
        # same id replaces the file instead of adding a second one.
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{email_id}.eml"
        temporary = self.folder / f".{email_id}.eml.tmp"
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, final)

    async def close(self) -> None:
        return None
