"""Running the API: uvicorn in this process, or N processes sharing one listening socket."""

import logging
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import sys
from types import FrameType
from urllib.parse import urlsplit

import uvicorn

from postroom import __version__, logs
from postroom.api.connections import ConnectionLimits, file_limit_needed, protocol_class
from postroom.bootstrap import build_app
from postroom.bootstrap.heap import settle_heap
from postroom.settings import Settings


def banner(settings: Settings, command: str, log_text: bool, sqlite_file: str | None) -> str:
    """What a new user needs at start: where to send, where emails are kept and go, how to run
    the CLI. Every URL is masked (logs.mask_url): the banner never shows a secret."""
    rows: list[tuple[str, str]] = []
    if command not in ("worker", "smtp"):
        base = _base_url(settings.host, settings.port, bool(settings.tls_cert))
        rows += [("API", f"{base}/api/v1/email"), ("API docs", f"{base}/docs")]
    if command in ("serve", "smtp"):
        rows += _smtp_rows(settings)
    elif settings.metrics_port:
        rows.append(
            ("Metrics", f"{_base_url(settings.host, settings.metrics_port, False)}/metrics")
        )
    storage = logs.mask_url(settings.database_url)
    rows.append(("Storage", f"{storage}   (file {sqlite_file})" if sqlite_file else storage))
    if settings.queue_url:
        rows.append(("Queue", logs.mask_url(settings.queue_url)))
    rows += [("Outbox", folder) for folder in _outboxes(settings.providers)]
    if command not in ("worker", "smtp") and _outboxes(settings.providers):
        rows.append(("Inbox", f"{base}/inbox   (what the outbox caught, docs/inbox.md)"))
    for number, url in enumerate(settings.providers, 1):
        rows.append(("Providers" if number == 1 else "", f"{number}. {logs.mask_url(url)}"))
    rows.append(("CLI", f"{_cli()} keys list   (same POSTROOM_* settings)"))
    rows.append(("Logs", "text lines on stderr" if log_text else "JSON lines on stderr"))
    head = f"postroom {__version__}: {command}"
    return "\n".join([head, *(f"  {label:10} {value}" for label, value in rows)])


def _smtp_rows(settings: Settings) -> list[tuple[str, str]]:
    """Where SMTP clients connect, and how (docs/smtp.md)."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    rows = []
    if settings.smtp_port:
        how = "STARTTLS, AUTH with an API key" if settings.tls_cert else "plain, AUTH from loopback"
        rows.append(("SMTP", f"{host}:{settings.smtp_port}   ({how})"))
    if settings.smtp_tls_port:
        rows.append(("SMTPS", f"{host}:{settings.smtp_tls_port}   (implicit TLS)"))
    return rows


def _base_url(host: str, port: int, tls: bool) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def _outboxes(urls: tuple[str, ...]) -> list[str]:
    parts = [urlsplit(url) for url in urls]
    return [os.path.abspath(p.netloc + p.path) for p in parts if p.scheme.lower() == "outbox"]


def _cli() -> str:
    """The command as this user can type it: `postroom` when on PATH, else the path the
    process was started by, relative to here when inside it (`.venv/bin/postroom`)."""
    started = os.path.abspath(sys.argv[0])
    if os.path.basename(started) != "postroom":
        return f"{sys.executable} -m postroom"
    on_path = shutil.which("postroom")
    if on_path is not None and os.path.abspath(on_path) == started:
        return "postroom"
    relative = os.path.relpath(started)
    return relative if not relative.startswith("..") else started


def _config(settings: Settings, with_worker: bool) -> uvicorn.Config:
    return uvicorn.Config(
        build_app(settings, with_worker),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        # No proxy-header rewriting: the connection guard counts clients by the socket's peer
        # address, which a client cannot choose as it can a forwarded header.
        proxy_headers=False,
        timeout_graceful_shutdown=30,
        # uvicorn's limit_concurrency counts connections only once their headers are in and then
        # refuses every request while over, in plain text; the guarded protocol admits or
        # refuses each connection when it is accepted instead (api/connections.py).
        http=protocol_class(connection_limits(settings)),
        limit_concurrency=None,
        timeout_keep_alive=settings.keepalive_timeout,
        ws="none",  # no WebSocket routes; an upgrade would bypass the guard's accounting
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
    )


def connection_limits(settings: Settings) -> ConnectionLimits:
    return ConnectionLimits(
        total=settings.max_connections,
        per_client=settings.max_connections_per_client,
        header_timeout=settings.header_timeout,
    )


def raise_file_limit(settings: Settings) -> None:
    """Raise this process's soft limit on open files towards what POSTROOM_MAX_CONNECTIONS
    needs (many systems start at 1,024). Past the limit accept() fails and the server stops
    taking connections for a while, so a limit the hard cap keeps too low is logged."""
    needed = file_limit_needed(connection_limits(settings))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft != resource.RLIM_INFINITY and soft < needed:
        logs.log_event(
            logs.get_logger("api"), "files.limit_low", logging.WARNING, limit=soft, needed=needed
        )


def serve(settings: Settings, with_worker: bool) -> None:
    """Serve in this process until SIGTERM or SIGINT; then finish requests and in-flight sends."""
    _exit_quietly_after_stop()
    tune_interpreter()
    raise_file_limit(settings)
    config = _config(settings, with_worker)
    settle_heap()
    uvicorn.Server(config).run()


def tune_interpreter() -> None:
    # The SQLite writer thread gives up the GIL around every statement and then waits for the
    # event loop to hand it back, which by default happens only every 5 ms while the loop is
    # busy. A shorter switch interval lets a commit finish in about a millisecond instead.
    sys.setswitchinterval(0.001)


def _exit_quietly_after_stop() -> None:
    # uvicorn handles SIGTERM/SIGINT itself, and once shut down re-raises the signal to the
    # handler that was there before it. A no-op handler there makes a graceful stop exit 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: None)


def serve_processes(settings: Settings) -> None:
    """`settings.processes` API processes accepting on one socket; SIGTERM stops them all."""
    if settings.processes == 1:
        serve(settings, with_worker=False)
        return
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.set_inheritable(True)
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_child, args=(settings, sock)) for _ in range(settings.processes)
    ]
    for child in children:
        child.start()

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()


def _child(settings: Settings, sock: socket.socket) -> None:
    logs.configure(settings.log_level, settings.log_format)
    _exit_quietly_after_stop()
    tune_interpreter()
    raise_file_limit(settings)
    config = _config(settings, with_worker=False)
    settle_heap()
    uvicorn.Server(config).run(sockets=[sock])
