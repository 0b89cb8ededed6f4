"""Running the API: uvicorn in this process, or N processes sharing one listening socket."""

import multiprocessing
import signal
import socket
import sys
from types import FrameType

import uvicorn

from postroom import logs
from postroom.bootstrap import build_app
from postroom.settings import Settings


def _config(settings: Settings, with_worker: bool) -> uvicorn.Config:
    return uvicorn.Config(
        build_app(settings, with_worker),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        # No proxy-header rewriting: nothing here uses the client address, and it costs per request.
        proxy_headers=False,
        timeout_graceful_shutdown=30,
        # Beyond this many open connections new ones are answered 503 instead of starving all.
        limit_concurrency=settings.max_connections,
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
    )


def serve(settings: Settings, with_worker: bool) -> None:
    """Serve in this process until SIGTERM or SIGINT; then finish requests and in-flight sends."""
    _exit_quietly_after_stop()
    tune_interpreter()
    uvicorn.Server(_config(settings, with_worker)).run()


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
    logs.configure(settings.log_level)
    _exit_quietly_after_stop()
    tune_interpreter()
    uvicorn.Server(_config(settings, with_worker=False)).run(sockets=[sock])
