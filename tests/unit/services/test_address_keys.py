"""Address and tag keys: HMAC-SHA256 under the address key, the same value however it is made."""

import hashlib
import hmac

import pytest

from postroom.domain.suppression import normalise
from postroom.services.addresses import UNKEYED, AddressKeys
from postroom.services.content import Content, NoCipher


def _expected(secret: bytes, data: bytes) -> str:
    key = hashlib.sha256(b"postroom address key\0" + secret).digest()
    return hmac.digest(key, data, "sha256").hex()


@pytest.mark.parametrize("secret", [UNKEYED, b"", b"s" * 200])
def test_keys_are_the_hmac_of_the_normalised_address_and_of_the_tag(secret: bytes) -> None:
    """Stored keys must not change: they are the HMAC of the normalised address (and of
    "tag\\0" + tag), one after another from the same keyed state."""
    keys = AddressKeys(Content(NoCipher()), secret)
    for address in ["ann@example.org", "Ann@Example.ORG", "bob+x@example.com", "zoë@example.org"]:
        assert keys.key(address) == _expected(secret, normalise(address).encode())
    for tag in ["invoice", "customer-ann", ""]:
        assert keys.tag_key(tag) == _expected(secret, b"tag\0" + tag.encode())
    assert keys.key("ann@example.org") == keys.key("ANN@example.org")


def test_keys_without_an_address_key_are_those_already_stored() -> None:
    """The values files written by earlier versions hold (no POSTROOM_ADDRESS_KEY)."""
    keys = AddressKeys(Content(NoCipher()))
    assert keys.key("Ann@Example.org") == (
        "374d86660690ed34fe328690d00523ff95a1ecd72eb302b37b5343e27a4b78f7"
    )
    assert keys.tag_key("invoice") == (
        "c4e0a67d1173c355b85c710f081f235ade7b882a165e7db2974a64df9cb7d75c"
    )
