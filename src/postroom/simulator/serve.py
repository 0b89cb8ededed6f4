"""`postroom fake-provider`: the simulator as a standalone server."""

from typing import Any

import uvloop
from aiohttp import web

from postroom.logs import mask_url
from postroom.simulator.app import create_simulator_app
from postroom.simulator.behaviour import Simulator
from postroom.simulator.events import DOMAIN
from postroom.simulator.webhooks.settings import WebhookSettings


def run_simulator(
    host: str,
    port: int,
    key: str | None,
    switches: dict[str, Any],
    webhooks: dict[str, Any] | None = None,
) -> None:
    """Serve until stopped. `webhooks` are WebhookSettings.update's changes; a ValueError
    about them is raised before anything is served."""
    simulator = Simulator(api_key=key)
    simulator.behaviour.update(switches)
    simulator.webhooks.settings.update(webhooks or {})
    banner = [
        f"provider simulator on http://{host}:{port} (Mailgun, SendGrid, Postmark; control: /_sim)",
        *webhook_lines(simulator.webhooks.settings),
    ]
    # Flushed: the keys must be readable while it serves, also when the output is a file.
    print("\n".join(banner), flush=True)
    web.run_app(
        create_simulator_app(simulator),
        host=host,
        port=port,
        print=None,
        loop=uvloop.new_event_loop(),
    )


def webhook_lines(settings: WebhookSettings) -> list[str]:
    """Where each provider's webhooks go, and the option of Postroom's provider URL that makes
    it accept them (secrets shown: they are the simulator's own, and must be pasted); nothing
    when no provider has a URL."""
    if not settings.urls:
        return []
    options = settings.url_options()
    lines = [
        f"webhooks (events for *@{DOMAIN} recipients, delivered for others):",
        f"  SendGrid public key (base64 DER): {settings.sendgrid_public_key}",
    ]
    for provider, url in settings.urls.items():
        option = options[provider] or "(none: the URL carries no user:password)"
        lines.append(f"  {provider} -> {mask_url(url)}; its Postroom provider URL takes: {option}")
    return lines
