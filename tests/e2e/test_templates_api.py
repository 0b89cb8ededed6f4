"""Templates through the HTTP API against a real `postroom serve` (worker, outbox, SQLite file).

Every test works in a tenant of its own (`postroom keys create --tenant`), so the tests share
one server and never see each other's templates.
"""

import email
import sqlite3
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from tests.e2e.test_api import conforms
from tests.e2e.test_suppressions_api import call, tenant_key
from tests.support.http import Reply
from tests.support.processes import wait_for
from tests.support.server import Server, run_cli, server

LIST = "/api/v1/templates"
LAYOUT = (
    "<html><head><style>p { color: #123456; }</style></head>"
    "<body><h1>{{ shop }}</h1>{{ content }}</body></html>"
)
WELCOME = {
    "name": "welcome",
    "subject": "Welcome, {{ first_name }}",
    "html": "<p>Hello {{ first_name }}, your code is {{ code }}.</p>",
    "text": "",
    "layout": LAYOUT,
    "variables": [
        {"name": "first_name", "required": True, "default": None},
        {"name": "code", "required": True},
        {"name": "shop", "required": False, "default": "Acme"},
    ],
}
SENDER = {"from": "Shop <shop@example.com>", "to": ["ann@example.org"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `postroom serve` with API keys on, a worker and an outbox, for the module."""
    env = {"POSTROOM_INSECURE_NO_AUTH": "false"}
    running = server(tmp_path_factory.mktemp("templates"), env).start()
    yield running
    running.stop()


@pytest.fixture
def key(served: Server) -> str:
    return tenant_key(served)


def published(api: Server, token: str, definition: dict[str, Any] = WELCOME) -> str:
    """Create the template and publish it; its id."""
    made = call(api, "POST", LIST, definition, token)
    assert made.status == 201, made.body
    assert call(api, "POST", f"{LIST}/{definition['name']}/publish", token=token).status == 200
    return str(made.json()["id"])


def send(api: Server, token: str, body: dict[str, Any]) -> Reply:
    return call(api, "POST", "/api/v1/email", body, token)


def delivered(api: Server, token: str, email_id: str) -> EmailMessage:
    """The email as the outbox wrote it, once the worker has sent it."""
    path = f"/api/v1/email/{email_id}"
    wait_for(lambda: call(api, "GET", path, token=token).json()["status"] == "sent", 30, "delivery")
    raw = (api.workdir / "outbox" / f"{email_id}.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def stored_emails(api: Server) -> int:
    """How many emails the server's SQLite file holds, read-only."""
    with sqlite3.connect(f"file:{api.workdir}/postroom.db?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM emails").fetchone()[0])


def part(message: EmailMessage, kind: str) -> str:
    body = message.get_body((kind,))
    assert body is not None, f"no text/{kind} part"
    return str(body.get_content())  # type: ignore[attr-defined]


def test_create_get_edit_publish_and_delete(served: Server, key: str) -> None:
    """A template starts as draft 1; an edit is draft 2 while 1 stays published; publish moves
    sends to 2; delete removes it."""
    made = call(served, "POST", LIST, WELCOME, key)
    assert made.status == 201
    assert made.json()["version"] == 1
    conforms(served, LIST, "post", made)
    one = f"{LIST}/welcome"
    shown = call(served, "GET", one, token=key)
    assert shown.json()["publishedVersion"] is None
    assert shown.json()["subject"] == WELCOME["subject"]
    conforms(served, LIST + "/{name}", "get", shown)
    assert call(served, "POST", f"{one}/publish", token=key).json()["version"] == 1
    edit = {**WELCOME, "subject": "Hello again, {{ first_name }}"}
    edited = call(served, "PUT", one, edit, key)
    assert edited.json() == {"id": made.json()["id"], "version": 2}
    shown = call(served, "GET", one, token=key).json()
    assert (shown["version"], shown["publishedVersion"]) == (2, 1)
    variables = {"first_name": "Ann", "code": "1"}
    sent = send(served, key, {**SENDER, "template": "welcome", "variables": variables})
    assert delivered(served, key, sent.json()["id"])["subject"] == "Welcome, Ann"
    call(served, "POST", f"{one}/publish", token=key)
    sent = send(served, key, {**SENDER, "template": "welcome", "variables": variables})
    assert delivered(served, key, sent.json()["id"])["subject"] == "Hello again, Ann"
    assert call(served, "DELETE", one, token=key).status == 200
    assert call(served, "GET", one, token=key).status == 404


def test_the_list_pages_the_tenants_templates_by_name(served: Server, key: str) -> None:
    """GET /api/v1/templates gives pages of the tenant's templates by name with their version
    numbers and no definitions; another tenant's are not in it; bad parameters are a 400."""
    made = {}
    for name in ("welcome", "alpha", "receipt"):
        made[name] = call(served, "POST", LIST, {**WELCOME, "name": name}, key).json()["id"]
    call(served, "POST", f"{LIST}/welcome/publish", token=key)
    call(served, "PUT", f"{LIST}/welcome", WELCOME, key)
    call(served, "POST", LIST, {**WELCOME, "name": "beta"}, tenant_key(served))
    first = call(served, "GET", f"{LIST}?limit=2", token=key)
    assert first.status == 200, first.body
    conforms(served, LIST, "get", first)
    assert [t["name"] for t in first.json()["data"]] == ["alpha", "receipt"]
    assert "subject" not in first.json()["data"][0]
    cursor = first.json()["nextCursor"]
    rest = call(served, "GET", f"{LIST}?limit=2&cursor={cursor}", token=key).json()
    assert rest["nextCursor"] is None
    (welcome,) = rest["data"]
    assert (welcome["id"], welcome["version"], welcome["publishedVersion"]) == (
        made["welcome"],
        2,
        1,
    )
    assert welcome["createdAt"] <= welcome["updatedAt"]
    assert call(served, "GET", f"{LIST}?limit=&cursor=", token=key).json()["nextCursor"] is None
    bad = call(served, "GET", f"{LIST}?limit=501&cursor=nope", token=key)
    assert bad.status == 400
    assert list(bad.json()["errors"]) == ["limit"]  # the cursor is read only with a limit
    conforms(served, LIST, "get", bad)
    wrong = call(served, "GET", f"{LIST}?cursor=nope", token=key)
    assert (wrong.status, list(wrong.json()["errors"])) == (400, ["cursor"])


def test_the_status_api_names_the_template_and_version_rendered(served: Server, key: str) -> None:
    """GET /api/v1/email/{id} tells a templated email's template id and the version sent; a
    plain email's template is null."""
    template_id = published(served, key)
    variables = {"first_name": "Ann", "code": "1"}
    sent = send(served, key, {**SENDER, "template": "welcome", "variables": variables})
    status = call(served, "GET", f"/api/v1/email/{sent.json()['id']}", token=key)
    conforms(served, "/api/v1/email/{id}", "get", status)
    assert status.json()["template"] == {"id": template_id, "version": 1}
    plain = send(served, key, {**SENDER, "subject": "Hi", "body": "Hello"})
    status = call(served, "GET", f"/api/v1/email/{plain.json()['id']}", token=key)
    assert status.json()["template"] is None


def test_a_templated_send_delivers_the_rendering_with_css_inlined(served: Server, key: str) -> None:
    """The outbox .eml holds the rendered subject, the HTML in its layout with the CSS inlined
    and the values escaped, and a text part made from the HTML."""
    published(served, key)
    variables = {"first_name": "<Ann>", "code": "X-42"}
    sent = send(served, key, {**SENDER, "template": "welcome", "variables": variables})
    assert sent.status == 202, sent.body
    message = delivered(served, key, sent.json()["id"])
    assert message["subject"] == "Welcome, <Ann>"
    html = part(message, "html")
    assert '<p style="color: #123456;">Hello &lt;Ann&gt;, your code is X-42.</p>' in html
    assert "<h1>Acme</h1>" in html
    assert "<style>" not in html
    text = part(message, "plain")
    assert "Hello <Ann>, your code is X-42." in text


def test_a_missing_variable_is_a_400_listing_it_and_nothing_is_stored(
    served: Server, key: str
) -> None:
    """Leaving out required variables names each one, and no email is stored."""
    published(served, key)
    before = stored_emails(served)
    reply = send(served, key, {**SENDER, "template": "welcome", "variables": {}})
    assert reply.status == 400
    assert reply.json()["errors"] == {
        "variables.first_name": "is required by the template",
        "variables.code": "is required by the template",
    }
    conforms(served, "/api/v1/email", "post", reply)
    assert stored_emails(served) == before


def test_an_unknown_or_unpublished_template_is_refused(served: Server, key: str) -> None:
    """A name the tenant has not published is a 400 on `template`."""
    call(served, "POST", LIST, {**WELCOME, "name": "draft-only"}, key)
    for name in ("nope", "draft-only"):
        reply = send(served, key, {**SENDER, "template": name, "variables": {}})
        assert reply.status == 400
        assert list(reply.json()["errors"]) == ["template"]


def test_tenants_do_not_share_templates(served: Server, key: str) -> None:
    """Another tenant can neither see, send with, nor change a template, and may use the
    same name for its own."""
    published(served, key)
    other = tenant_key(served)
    assert call(served, "GET", f"{LIST}/welcome", token=other).status == 404
    assert call(served, "DELETE", f"{LIST}/welcome", token=other).status == 404
    variables = {"first_name": "Ann", "code": "1"}
    reply = send(served, other, {**SENDER, "template": "welcome", "variables": variables})
    assert reply.status == 400
    mine = {**WELCOME, "subject": "Theirs"}
    assert call(served, "POST", LIST, mine, other).status == 201
    assert call(served, "GET", f"{LIST}/welcome", token=key).json()["subject"] == WELCOME["subject"]


def test_render_previews_without_storing(served: Server, key: str) -> None:
    """The preview renders the draft with the given variables; a render error names the part."""
    call(served, "POST", LIST, WELCOME, key)
    variables = {"first_name": "Ann", "code": "7"}
    reply = call(served, "POST", f"{LIST}/welcome/render", {"variables": variables}, key)
    assert reply.status == 200
    conforms(served, LIST + "/{name}/render", "post", reply)
    body = reply.json()
    assert body["subject"] == "Welcome, Ann"
    assert '<p style="color: #123456;">Hello Ann, your code is 7.</p>' in body["html"]
    assert "Hello Ann, your code is 7." in body["text"]
    broken = {**WELCOME, "html": "<p>{{ first_name }} {{ nobody }}</p>"}
    call(served, "PUT", f"{LIST}/welcome", broken, key)
    reply = call(served, "POST", f"{LIST}/welcome/render", {"variables": variables}, key)
    assert reply.status == 400
    assert "nobody" in reply.json()["errors"]["html"]


def test_invalid_definitions_are_refused_with_every_field(served: Server, key: str) -> None:
    """A bad name, a Liquid syntax error and a bad variable are all named; a taken name is 409."""
    bad = {
        "name": "Not OK",
        "html": "{% if %}",
        "variables": [{"name": "1x", "required": "yes"}],
    }
    reply = call(served, "POST", LIST, bad, key)
    assert reply.status == 400
    assert set(reply.json()["errors"]) == {
        "name",
        "variables[0].name",
        "variables[0].required",
    }
    unparsed = {"name": f"t{uuid.uuid4().hex[:6]}", "html": "{% if %}"}
    syntax = call(served, "POST", LIST, unparsed, key)
    assert syntax.status == 400
    assert "html" in syntax.json()["errors"]
    assert call(served, "POST", LIST, WELCOME, key).status == 201
    assert call(served, "POST", LIST, WELCOME, key).status == 409


def test_cli_manages_a_tenants_templates(served: Server) -> None:
    """`postroom templates` lists, shows, publishes and deletes what the API created."""
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    token = tenant_key(served, tenant)
    call(served, "POST", LIST, WELCOME, token)

    def run(*args: str) -> Any:
        return run_cli("templates", *args, env=served.env, cwd=served.workdir)

    listed = run("list", "--tenant", tenant)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split()[:3] == ["name", "version", "published"]
    assert row.split()[:3] == ["welcome", "1", "-"]
    assert run("publish", "welcome", "--tenant", tenant).returncode == 0
    shown = run("show", "welcome", "--tenant", tenant)
    assert '"publishedVersion": 1' in shown.stdout
    assert run("delete", "welcome", "--tenant", tenant).returncode == 0
    missing = run("show", "welcome", "--tenant", tenant)
    assert missing.returncode == 1
    assert call(served, "GET", f"{LIST}/welcome", token=token).status == 404
