"""The inbound port's types, where every provider's webhook module finds them."""

from postroom.ports.inbound import Inbound, Received, WebhookRefusedError, WebhookRequest

__all__ = ["Inbound", "Received", "WebhookRefusedError", "WebhookRequest"]
