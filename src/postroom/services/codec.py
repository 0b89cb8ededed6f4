"""How an Email is stored: MessagePack via msgspec, decoded straight back into the domain types."""

import msgspec

from postroom.domain.message import Email

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Email)


def encode_email(email: Email) -> bytes:
    return _encoder.encode(email)


def decode_email(payload: bytes) -> Email:
    return _decoder.decode(payload)
