"""The providers' webhook signatures, made the way a receiver checks them.

Mailgun: hex HMAC-SHA256 of `timestamp + token` under the account's HTTP webhook signing key.
SendGrid (Signed Event Webhook): base64 DER ECDSA P-256/SHA-256 over `timestamp + body`; the
receiver holds the public key as base64 DER (SubjectPublicKeyInfo), as SendGrid's console shows
it. Postmark signs nothing: its webhook URLs carry basic auth instead.
"""

import base64
import hashlib
import hmac

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def mailgun_signature(key: str, timestamp: str, token: str) -> str:
    message = (timestamp + token).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def sendgrid_signature(key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


def new_sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def load_sendgrid_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """An unencrypted PEM private key on P-256, the only curve SendGrid signs with; ValueError
    for anything else (the message never quotes the key)."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("sendgrid_private_key: not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("sendgrid_private_key: must be an EC key on P-256")
    return key


def public_key_base64(key: ec.EllipticCurvePrivateKey) -> str:
    """The verification key as SendGrid shows it: base64 of the SubjectPublicKeyInfo DER."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()
