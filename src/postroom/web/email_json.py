"""An email's recipients as JSON, the same in the status API and on the dashboard's detail."""

from typing import Any

from postroom.domain.rules import rfc3339
from postroom.services.recipients import RecipientReport


def recipient_json(report: RecipientReport, descriptions: bool = True) -> dict[str, Any]:
    """The recipient's address, state and events; `descriptions`: with each event's provider
    text (scrubbed of addresses, but a provider's words all the same)."""
    state = report.state
    return {
        "address": report.address,
        "state": state.state,
        "complained": state.complained,
        "unsubscribed": state.unsubscribed,
        "opens": state.opens,
        "clicks": state.clicks,
        "bounce": state.bounce,
        "events": [
            {
                "at": rfc3339(e.at),
                "type": e.type,
                "provider": e.provider or None,
                "bounce": e.bounce or None,
                "rejectReason": e.reject_reason or None,
                **({"description": e.description or None} if descriptions else {}),
            }
            for e in report.events
        ],
    }
