"""Checking the webhooks Postroom sends (Standard Webhooks, domain/signing.py) in a receiver."""

import time
from collections.abc import Mapping

from postroom.domain.signing import TOLERANCE, Secrets, verify


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: Secrets,
    tolerance: int = TOLERANCE,
) -> str:
    """The `webhook-id` (keep it to skip a redelivery) when `secret`, or one of a list of
    secrets during a rotation, signed exactly `body` with these headers within `tolerance`
    seconds of this machine's clock; WebhookVerificationError otherwise. Pass the raw body
    bytes as received: parsed and re-serialised JSON no longer matches."""
    return verify(secret, headers, body, time.time(), tolerance)
