"""/docs as a reader uses it: every field and answer on the page, and its example works."""

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import request
from tests.support.keys import create_key
from tests.support.server import Server, server


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = server(
        tmp_path_factory.mktemp("docs"), {"POSTROOM_INSECURE_NO_AUTH": "false"}, command="api"
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def page(secured: Server) -> str:
    reply = request("GET", f"{secured.url}/docs")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    return reply.body.decode()


def _fields(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for alternative in schema.get("oneOf", []):
        yield from _fields(alternative, path)
    for name, inner in schema.get("properties", {}).items():
        full = f"{path}.{name}" if path else name
        yield full, inner
        yield from _fields(inner, full)
    if isinstance(schema.get("items"), dict):
        yield from _fields(schema["items"], f"{path}[]")


def test_page_lists_every_field_with_its_type_and_description(secured: Server, page: str) -> None:
    """Each field of each schema has a row with its name, a type and its description."""
    document = request("GET", f"{secured.url}/openapi.json").json()
    rows = re.findall(r"<tr><td><code>(.*?)</code>.*?</td><td>(.*?)</td>.*?</tr>", page)
    typed = {html.unescape(name): kind for name, kind in rows}
    text = page.replace("<code>", "").replace("</code>", "")
    checked = 0
    for schema in document["components"]["schemas"].values():
        for name, field in _fields(schema):
            assert typed.get(name), f"{name} has no row with a type"
            assert html.escape(field["description"]).replace("`", "") in text, name
            checked += 1
    assert checked > 40
    for name in ("from", "to", "sendAt", "attachments[].content", "message.short", "outcome"):
        assert name in typed


def test_answers_are_in_status_order_and_auth_is_explained(page: str) -> None:
    """Each route's answers are listed by status code; the page says how to authenticate."""
    for section in page.split("<h2 id=")[1:]:
        codes = [int(code) for code in re.findall(r"<li><code>(\d{3})</code>", section)]
        assert codes == sorted(codes)
    assert "Authorization: Bearer KEY" in page
    assert "auth: open (no API key)" in page
    # POST, GET, DELETE email, the list of emails, the batch, /metrics, the four suppression,
    # the seven template, the nine webhook endpoint operations, the events feed and the three
    # provider operations
    assert page.count("auth: API key (Bearer)") == 30


def test_page_loads_nothing_from_elsewhere(page: str) -> None:
    """No script, stylesheet, image or font comes from another host."""
    assert "<script" not in page
    assert "<link" not in page
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page)


def test_the_celery_replacement_example_sends_an_email(secured: Server, page: str) -> None:
    """The page's Python example, run as it is, stores an email the API then reports."""
    found = re.search(r"<pre id='example-python'><code>(.*?)</code></pre>", page, re.S)
    assert found is not None
    key = create_key(secured, "example")
    script = Path(secured.workdir) / "send_email.py"
    script.write_text(html.unescape(found.group(1)))
    env = {**os.environ, "POSTROOM_URL": secured.url, "POSTROOM_KEY": key}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    email_id = done.stdout.strip()
    status = request(
        "GET", f"{secured.url}/api/v1/email/{email_id}", headers={"Authorization": f"Bearer {key}"}
    )
    assert status.status == 200
    assert status.json()["status"] == "queued"
