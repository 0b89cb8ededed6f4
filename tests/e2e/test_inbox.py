"""The dev inbox (docs/inbox.md) as a developer uses it: a real `postroom serve` with an outbox,
its JSON endpoints, and Debian's chromium driving the pages."""

import base64
import http.client
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.browser import CountingServer, browser, counting_server, page
from tests.support.http import Reply, post_email, request
from tests.support.keys import create_key
from tests.support.server import Server, server

__all__ = ["browser", "counting_server", "page"]  # fixtures, used by name

ROOT = Path(__file__).resolve().parents[2]
# Where the screenshots go when asked for (POSTROOM_SCREENSHOTS=docs/screenshots).
SCREENSHOTS = os.environ.get("POSTROOM_SCREENSHOTS")
ATTACHMENT = b"order,total\n42,19.90\n"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`postroom serve` without keys, delivering to an outbox in its workdir."""
    running = server(tmp_path_factory.mktemp("inbox"), {"POSTROOM_LOG_LEVEL": "debug"}).start()
    yield running
    running.stop()


@pytest.fixture
def secured(workdir: Path) -> Iterator[Server]:
    running = server(workdir, {"POSTROOM_INSECURE_NO_AUTH": "false"}).start()
    yield running
    running.stop()


def email(subject: str, **fields: Any) -> dict[str, Any]:
    return {
        "from": "Shop <shop@example.com>",
        "to": ["Ann Lee <ann@example.org>"],
        "subject": subject,
        "text": f"{subject}: the text part",
        **fields,
    }


def send(serve: Server, message: dict[str, Any], key: str | None = None) -> str:
    """Send through the API and wait until the outbox caught it; its id."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    accepted = post_email(serve.url, message, **headers)
    assert accepted.status == 202, accepted.body
    email_id = str(accepted.json()["id"])
    outbox = serve.workdir / "outbox" / f"{email_id}.eml"
    deadline = time.monotonic() + 30
    while not outbox.exists():
        assert time.monotonic() < deadline, "the outbox never caught the email"
        time.sleep(0.05)
    return email_id


def get(serve: Server, path: str, **headers: str) -> Reply:
    """GET `path` with its query string (tests/support/http.request sends the path only)."""
    conn = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        found = {k.lower(): v for k, v in answer.getheaders()}
        return Reply(answer.status, found, answer.read())
    finally:
        conn.close()


def rich_email(subject: str, image_url: str = "http://127.0.0.1:9/x.png") -> dict[str, Any]:
    html = (
        "<h1 id='greeting'>Hello from the frame</h1>"
        "<p style='color: #2a6df4'>Your order <b>#42</b> is on its way.</p>"
        f"<img id='remote' src='{image_url}' alt='tracking pixel'>"
        "<script>document.body.dataset.ran = 'yes';"
        f"fetch('{image_url}?script=1'); new Image().src = '{image_url}?image=1';</script>"
    )
    return email(
        subject,
        cc=["Bo <bo@example.org>"],
        bcc=["audit@example.org"],
        html=html,
        attachments=[
            {
                "filename": "order 42.csv",
                "contentType": "text/csv",
                "content": base64.b64encode(ATTACHMENT).decode(),
            }
        ],
    )


# -- JSON endpoints --------------------------------------------------------------------------


def test_list_and_one_give_what_the_outbox_caught(inbox: Server) -> None:
    """The list names the email newest first with its addresses, subject, date, size and
    attachments; one email adds both parts, every header and the envelope."""
    first = send(inbox, email("First one"))
    email_id = send(inbox, rich_email("Order shipped"))
    listed = get(inbox, "/inbox/api/messages").json()
    ids = [m["id"] for m in listed["messages"]]
    assert ids.index(email_id) < ids.index(first)
    summary = listed["messages"][ids.index(email_id)]
    assert summary["from"] == "Shop <shop@example.com>"
    assert summary["to"] == ["Ann Lee <ann@example.org>"]
    assert summary["cc"] == ["Bo <bo@example.org>"]
    assert summary["subject"] == "Order shipped"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", summary["date"])
    eml = inbox.workdir / "outbox" / f"{email_id}.eml"
    assert summary["size"] == eml.stat().st_size
    assert [(a["filename"], a["contentType"], a["size"]) for a in summary["attachments"]] == [
        ("order 42.csv", "text/csv", len(ATTACHMENT))
    ]
    one = get(inbox, f"/inbox/api/messages/{email_id}").json()
    assert one["text"] == "Order shipped: the text part\n"
    assert "<h1 id='greeting'>Hello from the frame</h1>" in one["html"]
    headers = {h["name"]: h["value"] for h in one["headers"]}
    assert headers["Subject"] == "Order shipped"
    assert headers["X-Postroom-Id"] == email_id
    assert one["envelope"]["bcc"] == ["audit@example.org"]


def test_unknown_and_malformed_ids_are_404(inbox: Server) -> None:
    """Only an id names a file: anything else, traversal included, is not found."""
    for path in (
        "/inbox/api/messages/01a00000-0000-7000-8000-000000000000",
        "/inbox/api/messages/..%2f..%2fpostroom.db",
        "/inbox/..%2fpostroom.db/raw",
        "/inbox/not-an-id/html",
    ):
        assert get(inbox, path).status == 404, path


def test_html_part_is_served_under_a_strict_policy(inbox: Server) -> None:
    """The HTML part's own route: no scripts, no remote images unless asked for (https: only)."""
    email_id = send(inbox, rich_email("Policy"))
    blocked = get(inbox, f"/inbox/{email_id}/html")
    assert blocked.status == 200
    policy = blocked.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:;")
    assert "sandbox" in policy
    remote = get(inbox, f"/inbox/{email_id}/html?images=remote").headers["content-security-policy"]
    assert "img-src data: cid: https:;" in remote
    assert "http:" not in remote.replace("https:", "")


def test_attachment_and_raw_downloads(inbox: Server) -> None:
    """An attachment comes back byte for byte as a download under its type and a safe name;
    the raw download is the .eml exactly as written."""
    email_id = send(
        inbox,
        email(
            "Files",
            attachments=[
                {"filename": "../../résumé.pdf", "content": base64.b64encode(b"%PDF-1").decode()}
            ],
        ),
    )
    got = get(inbox, f"/inbox/{email_id}/attachments/0")
    assert got.body == b"%PDF-1"
    assert got.headers["content-type"] == "application/pdf"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment; ")
    assert "/" not in disposition.replace("UTF-8''", "")
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.pdf" in disposition
    assert get(inbox, f"/inbox/{email_id}/attachments/1").status == 404
    raw = get(inbox, f"/inbox/{email_id}/raw")
    assert raw.body == (inbox.workdir / "outbox" / f"{email_id}.eml").read_bytes()
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.headers["content-disposition"].startswith("attachment; ")


def test_delete_all_empties_the_outbox(workdir: Path) -> None:
    """DELETE empties the list and the folder; a browser request from another site may not."""
    serve = server(workdir).start()
    try:
        email_id = send(serve, email("To delete"))
        url = f"{serve.url}/inbox/api/messages"
        elsewhere = request("DELETE", url, headers={"Origin": "https://evil.example"})
        assert elsewhere.status == 403
        cross = request("DELETE", url, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status == 403
        assert get(serve, f"/inbox/api/messages/{email_id}").status == 200
        deleted = request("DELETE", url)
        assert deleted.status == 200
        assert deleted.json() == {"deleted": 1}
        assert get(serve, "/inbox/api/messages").json() == {"messages": [], "total": 0}
        assert not list((workdir / "outbox").glob("*.eml"))
        assert not list((workdir / "outbox").glob("*.json"))
    finally:
        serve.stop()
    assert "To delete" not in serve.output()


def test_no_outbox_provider_means_no_inbox(workdir: Path) -> None:
    """Without an outbox:// provider, /inbox and its JSON are not there at all."""
    env = {"POSTROOM_PROVIDERS": "postmark://token?base_url=http://127.0.0.1:9"}
    api = server(workdir, env, command="api").start()
    try:
        for path in ("/inbox", "/inbox/login", "/inbox/api/messages", "/inbox/static/inbox.js"):
            assert get(api, path).status == 404, path
    finally:
        api.stop()


def _login(serve: Server, key: str, **headers: str) -> Reply:
    form = urlencode({"key": key, "csrf": ""}).encode()
    sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    return request("POST", f"{serve.url}/inbox/login", raw=form, headers=sent)


def test_with_keys_the_inbox_needs_a_session_or_a_key(secured: Server) -> None:
    """Without a session JSON is 401 and pages redirect to the login; a key as Bearer works;
    logging in sets an HttpOnly, SameSite=Strict cookie that holds no key."""
    key = create_key(secured, "inbox", "admin")
    send(secured, email("Secured"), key)
    assert get(secured, "/inbox/api/messages").status == 401
    page_reply = get(secured, "/inbox")
    assert page_reply.status == 303
    assert page_reply.headers["location"] == "/inbox/login"
    assert get(secured, "/inbox/api/messages", Authorization="Bearer pr_wrong").status == 401
    # Content is for admin keys only: a key that may send and read statuses may not.
    sender = create_key(secured, "sender", "send,read")
    assert get(secured, "/inbox/api/messages", Authorization=f"Bearer {sender}").status == 401
    listed = get(secured, "/inbox/api/messages", Authorization=f"Bearer {key}")
    assert listed.status == 200
    assert listed.json()["total"] == 1
    assert _login(secured, "pr_wrong").status == 401
    assert _login(secured, key, Origin="https://evil.example").status == 403
    logged_in = _login(secured, key)
    assert logged_in.status == 303
    cookie = logged_in.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert key not in cookie
    assert key not in logged_in.headers["location"]
    session = cookie.split(";")[0]
    assert get(secured, "/inbox/api/messages", Cookie=session).status == 200
    assert get(secured, "/inbox", Cookie=session).status == 200
    assert get(secured, "/inbox/api/messages", Cookie="postroom_inbox=guess").status == 401
    no_token = request(
        "POST",
        f"{secured.url}/inbox/delete",
        raw=b"csrf=wrong",
        headers={"Cookie": session, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert no_token.status == 403
    assert get(secured, "/inbox/api/messages", Cookie=session).json()["total"] == 1
    output = secured.output()
    logins = [line for line in output.splitlines() if '"event": "inbox.login"' in line]
    assert ['"outcome": "accepted"' in line for line in logins] == [False, True]
    assert key not in output
    assert "Secured" not in output


# -- the pages, in chromium ------------------------------------------------------------------


def _shot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        folder = ROOT / SCREENSHOTS if not os.path.isabs(SCREENSHOTS) else Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name), full_page=True)


def test_the_list_updates_live(inbox: Server, page: Any) -> None:
    """An email sent while the page is open appears in the list without a reload."""
    from playwright.sync_api import expect

    send(inbox, email("Welcome to the shop", to=["Cy Park <cy@example.org>"]))
    send(inbox, email("Reset your password", to=["Dee <dee@example.org>"]))
    page.goto(f"{inbox.url}/inbox")
    expect(page.locator("#messages tbody tr").first).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    send(inbox, rich_email("Your order #42 has shipped"))
    row = page.locator("#messages tbody tr").first
    expect(row).to_contain_text("Your order #42 has shipped", timeout=10_000)
    expect(row).to_contain_text("Ann Lee <ann@example.org>")
    assert page.evaluate("window.stillTheSamePage") is True
    _shot(page, "inbox.png")


def test_an_opened_email_is_rendered_in_a_sandbox(
    inbox: Server, page: Any, counting_server: CountingServer
) -> None:
    """Opening an email shows its HTML in a sandboxed frame where its script does not run and
    its remote image is not fetched; then the text, the headers and both downloads."""
    from playwright.sync_api import expect

    subject = "Sandboxed order"
    email_id = send(inbox, rich_email(subject, f"{counting_server.url}/x.png"))
    page.goto(f"{inbox.url}/inbox")
    page.get_by_role("link", name=subject).first.click()
    expect(page.locator("#subject")).to_have_text(subject)
    frame_element = page.locator("#html-frame")
    assert frame_element.get_attribute("sandbox") == ""
    frame = page.frame_locator("#html-frame")
    expect(frame.locator("#greeting")).to_have_text("Hello from the frame")
    expect(frame.locator("#remote")).to_be_attached()
    time.sleep(1)  # time for a script or an image load to have happened, had it been allowed
    assert frame.locator("body").get_attribute("data-ran") is None
    assert counting_server.requests == []
    expect(page.locator("#text pre")).to_have_text(f"{subject}: the text part")
    expect(page.locator("#headers")).to_contain_text(f"X-Postroom-Id{email_id}")
    expect(page.locator("table.meta")).to_contain_text("audit@example.org")
    _shot(page, "inbox-email.png")
    with page.expect_download() as attachment:
        page.get_by_role("link", name="order 42.csv").click()
    assert attachment.value.suggested_filename == "order 42.csv"
    assert Path(attachment.value.path()).read_bytes() == ATTACHMENT
    with page.expect_download() as raw:
        page.locator("#raw").click()
    eml = (inbox.workdir / "outbox" / f"{email_id}.eml").read_bytes()
    assert Path(raw.value.path()).read_bytes() == eml
    # "Load remote images" allows https: only: this http image stays blocked.
    page.locator("#images").click()
    expect(page.locator("#images")).to_have_text("Block remote images")
    expect(frame.locator("#greeting")).to_be_visible()
    time.sleep(0.5)
    assert counting_server.requests == []


def test_delete_all_from_the_page(workdir: Path, page: Any) -> None:
    """ "Delete all", confirmed, empties the list and the folder."""
    from playwright.sync_api import expect

    serve = server(workdir).start()
    try:
        send(serve, email("One to delete"))
        page.goto(f"{serve.url}/inbox")
        expect(page.locator("#messages tbody tr")).to_have_count(1)
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Delete all").click()
        expect(page.locator("#messages tbody tr")).to_have_count(0)
        expect(page.locator("#count")).to_have_text("0 emails")
        assert not list((workdir / "outbox").glob("*.eml"))
    finally:
        serve.stop()


def test_logging_in_with_a_key_opens_the_inbox(secured: Server, page: Any) -> None:
    """With keys, the page sends the browser to the login; a pasted key opens the inbox, and
    the session cookie is HttpOnly and SameSite=Strict."""
    from playwright.sync_api import expect

    key = create_key(secured, "browser", "admin")
    send(secured, rich_email("Behind the login"), key)
    page.goto(f"{secured.url}/inbox")
    assert page.url.endswith("/inbox/login")
    page.locator("input[name=key]").fill("pr_not_a_key")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#refused")).to_be_visible()
    page.locator("input[name=key]").fill(key)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Behind the login")).to_be_visible()
    assert key not in page.url
    cookies = page.context.cookies()
    assert [(c["httpOnly"], c["sameSite"]) for c in cookies] == [(True, "Strict")]
    assert key not in cookies[0]["value"]
    page.get_by_role("link", name="Behind the login").click()
    frame = page.frame_locator("#html-frame")
    expect(frame.locator("#greeting")).to_have_text("Hello from the frame")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/inbox/login")
    assert (
        get(secured, "/inbox/api/messages", Cookie=f"postroom_inbox={cookies[0]['value']}").status
        == 401
    )


def test_the_inbox_logs_no_content(inbox: Server) -> None:
    """Everything above showed content; the server's log lines hold ids and counts only. The
    start-up banner says where the inbox is."""
    output = inbox.output()
    assert f"Inbox      {inbox.url}/inbox   (" in output
    for content in ("Order shipped", "Hello from the frame", "ann@example.org", "order 42.csv"):
        assert content not in output, content
