"""`import postroom.client` in a fresh interpreter: it works with the server's frameworks and
drivers made unimportable, and loads no server module."""

import subprocess
import sys

# The server's dependencies a client has no use for.
SERVER_ONLY = (
    "starlette", "uvicorn", "uvloop", "httptools", "msgspec", "email_validator",
    "prometheus_client", "cryptography", "inscriptis", "psycopg", "aiobotocore", "aiosmtplib",
)  # fmt: skip
SERVER_PACKAGES = (
    "api", "services", "storage", "providers", "bootstrap", "cli", "worker", "simulator",
    "settings", "ports", "logs", "smtp",
)  # fmt: skip

PROBE = """
import sys

BLOCKED = set(sys.argv[1].split(","))


class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked")
        return None


sys.meta_path.insert(0, Refuse())
import postroom.client

client = postroom.client.Client("http://127.0.0.1:1", "pr_x")
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
server = sorted(m for m in sys.modules if m.split(".")[1:2] and m.startswith("postroom.")
                and m.split(".")[1] in sys.argv[2].split(","))
print(loaded, server)
"""


def test_the_client_imports_without_the_server_stack() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(SERVER_ONLY), ",".join(SERVER_PACKAGES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] []"


def test_the_probe_would_see_a_server_import() -> None:
    """The same probe on the server's app fails: the blocking is real."""
    probe = PROBE.replace("import postroom.client", "import postroom.api.app")
    done = subprocess.run(
        [sys.executable, "-c", probe, ",".join(SERVER_ONLY), ",".join(SERVER_PACKAGES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "is blocked" in done.stderr
