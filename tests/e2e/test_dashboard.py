"""The operator dashboard (docs/dashboard.md) against a running `postroom serve`, in a browser."""

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.browser import browser, page
from tests.support.http import Reply, post_email, request
from tests.support.keys import create_key
from tests.support.processes import FakeProvider, wait_for
from tests.support.server import Server, run_cli, server

__all__ = ["browser", "page"]  # fixtures, used by name

ROOT = Path(__file__).resolve().parents[2]
# Where the screenshots go when asked for (POSTROOM_SCREENSHOTS=docs/screenshots).
SCREENSHOTS = os.environ.get("POSTROOM_SCREENSHOTS")
CANARY_ADDRESS = "canary-ann@example.org"
CANARY_SUBJECT = "Canary subject 7f3a"
API = ("overview", "dead", "webhooks")


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeProvider]:
    running = FakeProvider(tmp_path_factory.mktemp("fake"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, fake: FakeProvider) -> Iterator[Server]:
    """`postroom serve` with keys, sending through the fake provider, one attempt per email."""
    env = {
        "POSTROOM_INSECURE_NO_AUTH": "false",
        "POSTROOM_PROVIDERS": f"mailgun://key@mg.example.com?base_url={fake.url}",
        "POSTROOM_MAX_ATTEMPTS": "1",
        "POSTROOM_LOG_LEVEL": "debug",
    }
    running = server(tmp_path_factory.mktemp("dashboard"), env).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(board: Server) -> str:
    return create_key(board, "operator", "admin")


def email(subject: str = CANARY_SUBJECT) -> dict[str, Any]:
    return {
        "from": "Shop <shop@example.com>",
        "to": [f"Ann Lee <{CANARY_ADDRESS}>"],
        "subject": subject,
        "text": "The canary's text part",
    }


def send(serve: Server, key: str, count: int = 1) -> list[str]:
    ids = []
    for _ in range(count):
        accepted = post_email(serve.url, email(), Authorization=f"Bearer {key}")
        assert accepted.status == 202, accepted.body
        ids.append(str(accepted.json()["id"]))
    return ids


def status(serve: Server, key: str, email_id: str) -> str:
    found = request(
        "GET", f"{serve.url}/api/v1/email/{email_id}", headers={"Authorization": f"Bearer {key}"}
    )
    return str(found.json()["status"])


def wait_status(serve: Server, key: str, ids: list[str], wanted: str) -> None:
    wait_for(lambda: all(status(serve, key, i) == wanted for i in ids), 30, f"the emails {wanted}")


def api(serve: Server, name: str, **headers: str) -> Reply:
    return request("GET", f"{serve.url}/dashboard/api/{name}", headers=headers)


def shot(page: Any, name: str, section: str = "") -> None:
    """The whole page, or only the element `section` selects."""
    if SCREENSHOTS:
        folder = ROOT / SCREENSHOTS if not os.path.isabs(SCREENSHOTS) else Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        if section:
            page.locator(section).screenshot(path=str(folder / name))
        else:
            page.screenshot(path=str(folder / name), full_page=True)


def log_in(page: Any, serve: Server, key: str) -> None:
    page.goto(f"{serve.url}/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.locator("input[name=key]").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/dashboard")
    page.wait_for_selector("body[data-loaded=true]")


def inside_one_minute() -> None:
    """Return with at least 15 s of the current minute left, so what is sent now and the
    page's next poll (every 2 s) fall in the same minute."""
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.1)


def tile(page: Any, name: str) -> int:
    return int(page.locator(f"#tile-{name} .value").inner_text())


def test_without_a_session_or_an_admin_key_nothing_is_shown(board: Server, admin: str) -> None:
    """No session: the page redirects to the login and the JSON answers 401; a key without
    the admin scope is refused too; an admin key as Bearer reads, and a POST from another
    origin is refused even with it."""
    page_reply = request("GET", f"{board.url}/dashboard")
    assert page_reply.status == 303
    assert page_reply.headers["location"] == "/dashboard/login"
    for name in API:
        refused = api(board, name)
        assert refused.status == 401
        assert refused.json()["status"] == "UNAUTHORIZED"
    sender = create_key(board, "not-an-operator")
    assert api(board, "overview", Authorization=f"Bearer {sender}").status == 401
    answered = api(board, "overview", Authorization=f"Bearer {admin}")
    assert answered.status == 200
    assert answered.headers["cache-control"] == "no-store"
    assert set(answered.json()) == {"queue", "activity", "day", "circuits"}
    foreign = request(
        "POST",
        f"{board.url}/dashboard/api/dead/redrive",
        raw=b'{"all": true}',
        headers={"Authorization": f"Bearer {admin}", "Origin": "https://evil.example"},
    )
    assert foreign.status == 403
    unsigned = request("POST", f"{board.url}/dashboard/api/dead/redrive", raw=b'{"all": true}')
    assert unsigned.status == 401
    form = urlencode({"key": sender, "csrf": ""}).encode()
    login = request(
        "POST",
        f"{board.url}/dashboard/login",
        raw=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert login.status == 401  # a valid key, but not an admin one: no session


def test_logging_in_shows_tiles_that_move_without_a_reload(
    board: Server, admin: str, page: Any
) -> None:
    """After logging in with an admin key, emails sent while the page is open raise the
    accepted and sent counts of the last hour and of the last day, with no reload, and the
    provider's row shows its latency; the session cookie is HttpOnly and the key is in no
    URL."""
    from playwright.sync_api import expect

    log_in(page, board, admin)
    assert admin not in page.url
    cookies = page.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        ("postroom_dashboard", True, "Strict")
    ]
    page.evaluate("window.stillTheSamePage = true")
    accepted, sent = tile(page, "accepted"), tile(page, "sent")
    day_accepted, day_sent = tile(page, "day-accepted"), tile(page, "day-sent")
    inside_one_minute()
    wait_status(board, admin, send(board, admin, 3), "sent")
    # This minute's tiles count at least these three (others' sends this minute may add).
    for kind in ("accepted", "sent"):
        page.wait_for_function(
            f"() => Number(document.querySelector('#tile-minute-{kind} .value').textContent) >= 3",
            timeout=10_000,
        )
    expect(page.locator("#tile-accepted .value")).to_have_text(str(accepted + 3), timeout=10_000)
    expect(page.locator("#tile-sent .value")).to_have_text(str(sent + 3), timeout=10_000)
    expect(page.locator("#tile-day-accepted .value")).to_have_text(str(day_accepted + 3))
    expect(page.locator("#tile-day-sent .value")).to_have_text(str(day_sent + 3))
    provider = page.locator("#providers tbody tr")
    expect(provider).to_contain_text("mailgun")
    expect(provider).to_contain_text("100.0 %")  # three attempts, all accepted
    # The fake provider answers within a few milliseconds: at least 1, well under a second.
    for percentile in ("p50", "p99"):
        expect(provider.locator(f"td.{percentile}")).to_have_text(re.compile(r"^\d{1,3} ms$"))
    expect(page.locator("#throughput polyline")).to_have_count(3)
    assert page.evaluate("window.stillTheSamePage") is True
    page.get_by_role("button", name="Find emails").click()
    expect(page.locator("#email-list tbody tr")).not_to_have_count(0)
    shot(page, "dashboard.png")
    # The session's cookie alone does not make a POST: the page's token must come with it.
    untokened = "fetch('/dashboard/api/dead/redrive', {method: 'POST', body: '{}'})"
    assert page.evaluate(f"{untokened}.then(r => r.status)") == 403
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/dashboard/login")
    cookie = f"postroom_dashboard={cookies[0]['value']}"
    assert api(board, "overview", Cookie=cookie).status == 401


def test_the_chart_switches_to_the_last_day(board: Server, admin: str, page: Any) -> None:
    """*Last day* draws the chart in 24 hourly buckets, the emails just sent in the current
    hour's; *Last hour* goes back to 60 minutes."""
    from playwright.sync_api import expect

    wait_status(board, admin, send(board, admin), "sent")
    log_in(page, board, admin)
    page.get_by_role("button", name="Last day").click()
    expect(page.locator("#throughput[data-range=day]")).to_have_count(1)
    expect(page.locator("#chart-span")).to_have_text("per hour, the last day")
    lines = page.locator("#throughput polyline")
    expect(lines).to_have_count(3)
    assert len(lines.first.get_attribute("points").split()) == 24
    day = page.evaluate("fetch('/dashboard/api/throughput?range=day').then(r => r.json())")
    assert (day["range"], day["bucketSeconds"], len(day["series"]["sent"])) == ("day", 3600, 24)
    assert day["series"]["sent"][-1] >= 1
    page.get_by_role("button", name="Last hour").click()
    expect(page.locator("#throughput[data-range=hour]")).to_have_count(1)
    assert len(lines.first.get_attribute("points").split()) == 60


def test_dead_letters_are_redriven_from_the_page(
    board: Server, admin: str, fake: FakeProvider, page: Any
) -> None:
    """Emails the provider refused are listed as dead letters; one redriven from its row, and
    the rest with "Redrive all" after the dry-run count, leave the list and are sent."""
    from playwright.sync_api import expect

    fake.behaviour({"fail_status": 400})
    try:
        ids = send(board, admin, 3)
        wait_status(board, admin, ids, "failed")
    finally:
        fake.behaviour({"fail_status": 0})
    log_in(page, board, admin)
    rows = page.locator("#dead tbody tr")
    expect(rows).to_have_count(3)
    listed = api(board, "dead", Authorization=f"Bearer {admin}").body.decode()
    assert all(i in listed for i in ids)
    assert CANARY_ADDRESS not in listed
    assert CANARY_ADDRESS not in page.content()
    page.locator(f"#dead tbody tr[data-id='{ids[0]}']").get_by_role("button").click()
    expect(page.locator("#redrive-result")).to_have_text("Redriven: 1")
    expect(rows).to_have_count(2)
    wait_status(board, admin, ids[:1], "sent")
    page.get_by_role("button", name="Redrive all…").click()
    expect(page.locator("#redrive-count")).to_have_text("2 dead letters would be redriven.")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#redrive-result")).to_have_text("Redriven: 2")
    expect(rows).to_have_count(0)
    wait_status(board, admin, ids[1:], "sent")


def dead_with(serve: Server, key: str, fake: FakeProvider, status: int, count: int) -> list[str]:
    """`count` emails dead-lettered by the provider answering `status` to each."""
    fake.behaviour({"fail_status": status})
    try:
        ids = send(serve, key, count)
        wait_status(serve, key, ids, "failed")
    finally:
        fake.behaviour({"fail_status": 0})
    return ids


def test_a_filtered_redrive_redrives_only_the_matching_dead_letters(
    board: Server, admin: str, fake: FakeProvider, page: Any
) -> None:
    """Two emails refused (permanent) and one the provider was down for (down): a redrive of
    error class `down` counts one in its dry run and redrives that one alone; the refused
    ones stay dead until redriven by their provider."""
    from playwright.sync_api import expect

    refused = dead_with(board, admin, fake, 400, 2)
    (down,) = dead_with(board, admin, fake, 503, 1)
    log_in(page, board, admin)
    rows = page.locator("#dead tbody tr")
    expect(rows).to_have_count(3)
    page.locator("#redrive-error").select_option("down")
    page.get_by_role("button", name="Redrive matching…").click()
    expect(page.locator("#redrive-match-count")).to_have_text("1 dead letters match.")
    page.get_by_role("button", name="Confirm redrive").click()
    expect(page.locator("#redrive-result")).to_have_text("Redriven: 1")
    expect(rows).to_have_count(2)
    assert [rows.nth(i).get_attribute("data-id") for i in range(2)] == sorted(refused)
    wait_status(board, admin, [down], "sent")
    assert {status(board, admin, i) for i in refused} == {"failed"}
    page.locator("#redrive-error").select_option("")
    page.locator("#redrive-provider").fill("mailgun")
    page.get_by_role("button", name="Redrive matching…").click()
    expect(page.locator("#redrive-match-count")).to_have_text("2 dead letters match.")
    page.get_by_role("button", name="Confirm redrive").click()
    expect(page.locator("#redrive-result")).to_have_text("Redriven: 2")
    expect(rows).to_have_count(0)
    wait_status(board, admin, refused, "sent")


def test_a_suppression_is_added_found_and_removed(board: Server, admin: str, page: Any) -> None:
    """The operator types an address: Add suppresses it, Search shows the entry, Remove lifts
    it."""
    from playwright.sync_api import expect

    log_in(page, board, admin)
    page.locator("#suppression-address").fill("typed-by-operator@example.net")
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#suppression-result")).to_have_text("Added.")
    page.get_by_role("button", name="Search").click()
    entries = page.locator("#suppression-entries tbody tr")
    expect(entries).to_have_count(1)
    expect(entries).to_contain_text("manual")
    page.get_by_role("button", name="Remove").click()
    expect(page.locator("#suppression-result")).to_have_text("Removed: 1")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#suppression-result")).to_have_text("Not suppressed.")


def test_an_email_sent_is_found_and_its_detail_opened(board: Server, admin: str, page: Any) -> None:
    """An email sent with a tag is listed in the Emails section (no address in the list), found
    again by its recipient typed in; clicking it shows its recipient with its state and the
    email's history with the provider's attempt and its sent event."""
    from playwright.sync_api import expect

    tagged = {**email(), "tags": ["dashboard-find-me"]}
    accepted = post_email(board.url, tagged, Authorization=f"Bearer {admin}")
    assert accepted.status == 202, accepted.body
    email_id = str(accepted.json()["id"])
    wait_status(board, admin, [email_id], "sent")
    log_in(page, board, admin)
    page.locator("#email-tag").fill("dashboard-find-me")
    page.get_by_role("button", name="Find emails").click()
    rows = page.locator("#email-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(email_id)
    expect(rows).to_contain_text("mailgun")
    assert CANARY_ADDRESS not in page.locator("#email-list").inner_text()
    page.locator("#email-tag").fill("")
    page.locator("#email-to").fill(CANARY_ADDRESS.upper())
    page.get_by_role("button", name="Find emails").click()
    expect(page.locator(f"#email-list tbody tr[data-id='{email_id}']")).to_have_count(1)
    page.locator(f"#email-list tbody tr[data-id='{email_id}'] a").click()
    detail = page.locator("#email-detail")
    expect(detail).to_be_visible()
    expect(page.locator("#detail-id")).to_have_text(email_id)
    expect(page.locator("#detail-recipients tbody tr")).to_contain_text(CANARY_ADDRESS)
    expect(page.locator("#detail-recipients tbody tr")).to_contain_text("sent")
    history = page.locator("#detail-events tbody tr")
    expect(history.filter(has_text="sent").filter(has_text="mailgun")).not_to_have_count(0)
    assert CANARY_SUBJECT not in page.content()
    shot(page, "dashboard-email.png", "#emails")


def other_tenants_email(serve: Server) -> str:
    """The id of an email sent with a key of another tenant."""
    made = run_cli(
        *("keys", "create", "--name", "elsewhere", "--tenant", "other", "--scope", "send"),
        env=serve.env,
        cwd=serve.workdir,
    )
    assert made.returncode == 0, made.stderr
    (key,) = [word for word in made.stdout.split() if word.startswith("pr_")]
    accepted = post_email(serve.url, email(), Authorization=f"Bearer {key}")
    assert accepted.status == 202, accepted.body
    return str(accepted.json()["id"])


def test_an_email_is_opened_by_its_id(board: Server, admin: str, page: Any) -> None:
    """An id pasted in the box (capitals, spaces around) opens that email's detail; an id of
    no email, or of another tenant's email, says there is none; what is no id at all (an
    address pasted by mistake) is refused in the page, without a request."""
    from playwright.sync_api import expect

    (email_id,) = send(board, admin)
    wait_status(board, admin, [email_id], "sent")
    foreign = other_tenants_email(board)
    log_in(page, board, admin)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/emails/" in r.url else None)
    result = page.locator("#lookup-result")
    page.locator("#lookup-id").fill(f"  {email_id.upper()} ")
    page.get_by_role("button", name="Open").click()
    expect(page.locator("#email-detail")).to_be_visible()
    expect(page.locator("#detail-id")).to_have_text(email_id)
    expect(page.locator("#detail-recipients tbody tr")).to_contain_text(CANARY_ADDRESS)
    expect(result).to_have_text("")
    for unknown in ("0190aaaa-0000-7000-8000-000000000000", foreign):
        page.locator("#lookup-id").fill(unknown)
        page.get_by_role("button", name="Open").click()
        expect(result).to_have_text("No email with this id.")
        expect(page.locator("#email-detail")).to_be_hidden()
    page.locator("#lookup-id").fill(CANARY_ADDRESS)
    page.get_by_role("button", name="Open").click()
    expect(result).to_contain_text("That is not an email id")
    assert not [url for url in asked if "@" in url or "canary" in url]
    assert len(asked) == 3
    bearer = {"Authorization": f"Bearer {admin}"}
    malformed = api(board, "emails/not-an-id", **bearer)
    assert (malformed.status, malformed.json()["status"]) == (400, "BAD_REQUEST")
    assert api(board, f"emails/{foreign}", **bearer).status == 404


def test_webhook_endpoints_are_listed_and_tested(board: Server, admin: str, page: Any) -> None:
    """An endpoint of the key's tenant is listed without its query string; Test queues a
    test event."""
    from playwright.sync_api import expect

    created = request(
        "POST",
        f"{board.url}/api/v1/webhooks",
        raw=json.dumps({"url": "https://hooks.example.com/in?token=app-secret"}).encode(),
        headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
    )
    assert created.status == 201, created.body
    log_in(page, board, admin)
    row = page.locator("#webhooks tbody tr")
    expect(row).to_contain_text("https://hooks.example.com/in")
    assert "app-secret" not in page.content()
    row.get_by_role("button", name="Test").click()
    expect(page.locator("#webhook-result")).to_contain_text("Test event queued: evt_test_")


def test_the_dashboard_shows_and_logs_no_address_or_content(board: Server, admin: str) -> None:
    """After canary emails were sent, sent again and dead-lettered, neither the page, nor any
    of its JSON (the day's counts, an id looked up that names no email or is none, the
    providers' list of the public API), nor the server's log holds their address or subject;
    an email's detail holds its address but never its subject."""
    (sent,) = send(board, admin)
    wait_status(board, admin, [sent], "sent")
    bearer = {"Authorization": f"Bearer {admin}"}
    bodies = [request("GET", f"{board.url}/dashboard", headers=bearer).body]
    bodies += [api(board, name, **bearer).body for name in API]
    bodies += [api(board, "throughput?range=day", **bearer).body]
    for missing in ("0190aaaa-0000-7000-8000-000000000000", "not-an-id"):
        bodies.append(api(board, f"emails/{missing}", **bearer).body)
    bodies.append(request("GET", f"{board.url}/api/v1/providers", headers=bearer).body)
    detail = api(board, f"emails/{sent}", **bearer).body.decode()
    assert CANARY_ADDRESS in detail
    assert CANARY_SUBJECT not in detail
    searched = request(
        "POST", f"{board.url}/dashboard/api/emails/search", {"to": CANARY_ADDRESS}, bearer
    )
    assert searched.status == 200
    assert searched.json()["emails"]  # the canary's emails are listed, without their address
    bodies.append(searched.body)
    time.sleep(0.5)  # the log's last lines
    for text in [*(b.decode() for b in bodies), board.output()]:
        assert CANARY_ADDRESS not in text
        assert CANARY_SUBJECT not in text


def test_without_keys_the_page_opens_without_a_login(api: Server, page: Any) -> None:
    """With POSTROOM_INSECURE_NO_AUTH the page opens directly; an `api` process runs no worker
    and SQLite shares no circuits, so the page says there are none to show here (the configured
    provider is listed, its circuit not known, so that it can be paused from here)."""
    from playwright.sync_api import expect

    page.goto(f"{api.url}/dashboard")
    assert page.url.endswith("/dashboard")
    page.wait_for_selector("body[data-loaded=true]")
    expect(page.locator("#circuit-source")).to_contain_text("runs no worker")
    circuits = api_json(api, "overview")["circuits"]
    assert (circuits["source"], circuits["pauses"]) == ("none", True)
    assert [(p["name"], p["state"], p["pausable"]) for p in circuits["providers"]] == [
        ("outbox", None, True)
    ]


def received(fake: FakeProvider) -> dict[str, int]:
    """How many emails the fake provider accepted through each provider API."""
    counts: dict[str, int] = {"mailgun": 0, "sendgrid": 0}
    for item in fake.accepted()["accepted"]:
        counts[item["provider"]] = counts.get(item["provider"], 0) + 1
    return counts


def mailgun_paused(serve: Server) -> bool:
    """The worker's circuit gauge says Mailgun is paused: the worker has seen the pause."""
    gauge = 'postroom_provider_circuit{provider="mailgun",state="paused"} 1.0'
    return gauge in request("GET", f"{serve.url}/metrics").body.decode()


def test_a_provider_paused_from_the_page_is_sent_nothing(
    tmp_path: Path, fake: FakeProvider, page: Any
) -> None:
    """*Pause* on Mailgun's row: the email sent next goes out through SendGrid, the provider
    after it; *Resume*: the next goes through Mailgun again."""
    from playwright.sync_api import expect

    serve = server(tmp_path, {"POSTROOM_PROVIDERS": fake.mailgun_then_sendgrid()}).start()
    try:
        page.goto(f"{serve.url}/dashboard")
        page.wait_for_selector("body[data-loaded=true]")
        row = page.locator("#providers tbody tr[data-provider='mailgun']")
        row.get_by_role("button", name="Pause").click()
        expect(page.locator("#pause-result")).to_have_text("mailgun paused.")
        expect(row.locator("td.paused")).to_contain_text("since")
        wait_for(lambda: mailgun_paused(serve), 2, "the worker to see the pause")
        before = received(fake)
        wait_status(serve, "", [post_email(serve.url, email()).json()["id"]], "sent")
        assert received(fake) == {**before, "sendgrid": before["sendgrid"] + 1}
        row.get_by_role("button", name="Resume").click()
        expect(page.locator("#pause-result")).to_have_text("mailgun resumed.")
        wait_for(lambda: not mailgun_paused(serve), 2, "the worker to see the resume")
        wait_status(serve, "", [post_email(serve.url, email()).json()["id"]], "sent")
        assert received(fake) == {
            **before,
            "sendgrid": before["sendgrid"] + 1,
            "mailgun": before["mailgun"] + 1,
        }
    finally:
        serve.stop()


def api_json(serve: Server, name: str) -> Any:
    found = request("GET", f"{serve.url}/dashboard/api/{name}")
    assert found.status == 200
    return found.json()
