"""What the inbound webhook tests share: events put in the conformance files' words, and the
refusal an inbound endpoint raises."""

from typing import Any

import pytest

from postroom.domain.events import ProviderEvent
from postroom.ports.inbound import Inbound, WebhookRefusedError, WebhookRequest


def summary(event: ProviderEvent) -> dict[str, Any]:
    """An event in the conformance file's words."""
    return {
        "event_type": event.type.value,
        "recipient": event.recipient,
        "provider_message_id": event.provider_message_id,
        "reject_reason": event.reject_reason.value if event.reject_reason else None,
        "bounce": event.bounce.value if event.bounce else None,
        "timestamp": event.timestamp,
        "event_id": event.event_id,
        "click_url": event.click_url,
    }


def expected_of(case: dict[str, Any]) -> list[dict[str, Any]]:
    """A case's `expected`, as a list of events with every optional field present."""
    expected = case["expected"]
    events = expected if isinstance(expected, list) else [expected]
    absent = {"reject_reason": None, "bounce": None, "click_url": None, "event_id": None}
    return [absent | event for event in events]


async def refused(inbound: Inbound, webhook: WebhookRequest) -> WebhookRefusedError:
    """The refusal `inbound` raises for `webhook` (the test fails if it accepts it)."""
    with pytest.raises(WebhookRefusedError) as caught:
        await inbound.receive(webhook)
    return caught.value
