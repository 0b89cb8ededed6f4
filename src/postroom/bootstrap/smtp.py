"""The SMTP half of the composition root: the SMTP listeners over the API's own intake parts
(the same SubmitEmail, key cache, sending limits and suppression list), in `serve` beside the
API and alone in `postroom smtp` (docs/smtp.md).

Imported only when an SMTP port is configured: aiosmtpd comes with postroom[smtp].
"""

import asyncio
import signal
import socket

from postroom.api.container import Container
from postroom.bootstrap.events import parse_listed_address
from postroom.domain.keys import SEND
from postroom.domain.message import Limits
from postroom.logs import get_logger, log_event
from postroom.services.auth import scoped
from postroom.settings import Settings
from postroom.smtp.handler import SmtpIntake
from postroom.smtp.server import Listeners, SmtpOptions, start_listeners, tls_context

log = get_logger("smtp")


def smtp_intake(container: Container) -> SmtpIntake:
    """The SMTP intake over what the HTTP intake was given."""
    suppressions = container.suppressions
    return SmtpIntake(
        submit=container.submit,
        check_address=parse_listed_address,
        # SubmitEmail validates with the default Limits; RCPT TO refuses past the same count.
        max_recipients=Limits().max_recipients,
        # AUTH only ever sends: a key without the `send` scope is refused like a wrong one.
        authenticate=scoped(container.authenticate, SEND),
        limit=container.limit,
        blocked=suppressions.blocked if suppressions is not None else None,
    )


def smtp_options(settings: Settings) -> SmtpOptions:
    return SmtpOptions(
        # Named once: aiosmtpd would otherwise look the name up in DNS for every connection.
        hostname=socket.gethostname(),
        max_bytes=settings.max_body_bytes,
        idle_timeout=settings.smtp_idle_timeout,
        data_timeout=settings.smtp_data_timeout,
        per_client=settings.max_connections_per_client,
        tls=tls_context(settings.tls_cert, settings.tls_key) if settings.tls_cert else None,
    )


async def open_listeners(container: Container, settings: Settings) -> Listeners:
    listeners = await start_listeners(
        smtp_intake(container),
        smtp_options(settings),
        settings.host,
        settings.smtp_port,
        settings.smtp_tls_port,
        auth_required=container.authenticate is not None,
    )
    log_event(log, "smtp.listening", port=settings.smtp_port, tls_port=settings.smtp_tls_port)
    return listeners


def attach_smtp(container: Container, settings: Settings) -> None:
    """Listen for SMTP while the API serves: after its start-up hooks (the worker, storage),
    and stop before its shut-down hooks close storage."""
    opened: list[Listeners] = []

    async def start() -> None:
        opened.append(await open_listeners(container, settings))

    async def stop() -> None:
        for listeners in opened:
            await listeners.close()

    container.on_startup.append(start)
    container.on_shutdown.insert(0, stop)


async def run_smtp(container: Container, settings: Settings) -> None:
    """`postroom smtp`: the SMTP intake alone until SIGTERM or SIGINT, then close in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    for hook in container.on_startup:
        await hook()
    listeners = await open_listeners(container, settings)
    try:
        await stop.wait()
    finally:
        await listeners.close()
        for hook in container.on_shutdown:
            await hook()
