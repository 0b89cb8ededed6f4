"""Addresses at rest: looked up by a keyed hash, stored sealed when encryption is on.

The suppression list and provider events never index a plaintext address. The hash is HMAC-SHA256
under POSTROOM_ADDRESS_KEY, so a copy of the database alone does not tell whether a given address
is on the list (a plain hash would: addresses are few enough to guess). Without the setting the
key is a fixed, public one: then the hash is only an index, which is honest because without
encryption the addresses are stored in the clear anyway (docs/suppressions.md).
"""

import hashlib
import hmac

from postroom.domain.suppression import normalise
from postroom.services.content import Content

# Without POSTROOM_ADDRESS_KEY: public, so it protects nothing; it only makes keys uniform.
UNKEYED = b"postroom address index"
# Sealed addresses are bound to this context, so a sealed value cannot pass for an email's.
_CONTEXT = "address"


class AddressKeys:
    def __init__(self, content: Content, secret: bytes = UNKEYED) -> None:
        self._content = content
        key = hashlib.sha256(b"postroom address key\0" + secret).digest()
        # Keyed once: each hash copies this HMAC and adds the text. OpenSSL sets a key up anew
        # for every one-shot hmac.digest, which cost 2.7 µs a hash against 1.7 (timeit), and
        # every recipient of every email accepted pays one.
        self._keyed = hmac.new(key, digestmod="sha256")

    def key(self, address: str) -> str:
        """The lookup key of an address, in any case or spacing."""
        return self._hash(normalise(address).encode())

    def tag_key(self, tag: str) -> str:
        """The lookup key of a tag, exact: tags may name people ("customer-ann"), so the list
        of emails filters on this and never stores the tag itself."""
        return self._hash(b"tag\0" + tag.encode())

    def _hash(self, data: bytes) -> str:
        keyed = self._keyed.copy()
        keyed.update(data)
        return keyed.hexdigest()

    def seal(self, address: str) -> str:
        """The normalised address as stored: sealed when keys are configured."""
        return self._content.seal_text(normalise(address), _CONTEXT)

    def open(self, stored: str) -> str:
        """CipherError when it was sealed with a key that is not configured."""
        return self._content.open_text(stored, _CONTEXT)
