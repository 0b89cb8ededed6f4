"""`postroom suppressions` and `postroom keys create --tenant` as an operator uses them."""

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.http import post_email, request
from tests.support.processes import wait_for
from tests.support.server import Server, run_cli, server

EMAIL = {"from": "shop@example.com", "subject": "Hi", "body": "Hello"}


def database(tmp_path: Path) -> dict[str, str]:
    return {"POSTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("suppressions", *args, env=env)


def rows(result: subprocess.CompletedProcess[str]) -> list[list[str]]:
    """The table a listing printed, without its header, each row split into words."""
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["address", "reason", "scope"]
    return [line.split() for line in lines[1:]]


def test_add_show_list_and_remove(tmp_path: Path) -> None:
    """An address added is shown and listed with its reason and scope, then removed."""
    env = database(tmp_path)
    added = cli(env, "add", "Ann@Example.org", "--reason", "complaint")
    assert (added.returncode, added.stdout.strip()) == (0, "added: 1")
    assert cli(env, "add", "ann@example.org", "--scope", "newsletter").returncode == 0
    shown = rows(cli(env, "show", "ANN@example.org"))
    assert sorted((r[0], r[1], r[2]) for r in shown) == [
        ("ann@example.org", "complaint", "*"),
        ("ann@example.org", "manual", "newsletter"),
    ]
    assert len(rows(cli(env, "list"))) == 2
    removed = cli(env, "remove", "ann@example.org", "--scope", "newsletter")
    assert (removed.returncode, removed.stdout.strip()) == (0, "removed: 1")
    assert [r[2] for r in rows(cli(env, "show", "ann@example.org"))] == ["*"]
    assert cli(env, "remove", "ann@example.org").stdout.strip() == "removed: 1"
    assert rows(cli(env, "list")) == []


def test_adding_an_address_again_adds_nothing(tmp_path: Path) -> None:
    """A second add of the same address and scope prints added: 0 and keeps one entry."""
    env = database(tmp_path)
    assert cli(env, "add", "bob@example.org").stdout.strip() == "added: 1"
    assert cli(env, "add", "BOB@example.org").stdout.strip() == "added: 0"
    assert len(rows(cli(env, "show", "bob@example.org"))) == 1


def test_show_and_remove_of_an_address_not_listed_exit_1(tmp_path: Path) -> None:
    """Nothing to show or remove is one line on stderr and exit 1."""
    env = database(tmp_path)
    for verb in ("show", "remove"):
        result = cli(env, verb, "cy@example.org")
        assert result.returncode == 1
        assert result.stderr.strip() == "postroom: not on the suppression list"
    assert cli(env, "add", "cy@example.org").returncode == 0
    assert cli(env, "remove", "cy@example.org", "--scope", "news").returncode == 1
    assert len(rows(cli(env, "show", "cy@example.org"))) == 1


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("add", "dee@"), "ADDRESS"),
        (("add", "dee@example"), "ADDRESS"),
        (("add", "Dee <dee@example.org>"), "ADDRESS"),
        (("add", "dee@example.org", "--scope", ""), "--scope"),
        (("add", "dee@example.org", "--scope", "x" * 129), "--scope"),
        (("add", "dee@example.org", "--reason", "bored"), "--reason"),
        (("show", "not an address"), "ADDRESS"),
        (("remove", "dee@"), "ADDRESS"),
    ],
)
def test_what_the_api_refuses_the_cli_refuses(
    tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    """An address, scope or reason the API would refuse is exit 2 naming it; nothing stored."""
    env = database(tmp_path)
    result = cli(env, *args)
    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert rows(cli(env, "list")) == []


def test_list_filters_by_reason(tmp_path: Path) -> None:
    """--reason lists only that reason's entries."""
    env = database(tmp_path)
    for address, reason in (("e1@example.org", "hard_bounce"), ("e2@example.org", "manual")):
        assert cli(env, "add", address, "--reason", reason).returncode == 0
    assert [r[0] for r in rows(cli(env, "list", "--reason", "hard_bounce"))] == ["e1@example.org"]
    assert rows(cli(env, "list", "--reason", "complaint")) == []


def test_tenants_have_lists_of_their_own(tmp_path: Path) -> None:
    """--tenant picks the list: another tenant's entries are neither listed nor shown."""
    env = database(tmp_path)
    assert cli(env, "add", "fay@example.org", "--tenant", "acme").returncode == 0
    assert rows(cli(env, "list")) == []
    assert cli(env, "show", "fay@example.org").returncode == 1
    assert cli(env, "remove", "fay@example.org", "--tenant", "globex").returncode == 1
    assert [r[0] for r in rows(cli(env, "list", "--tenant", "acme"))] == ["fay@example.org"]


def test_the_cli_and_the_api_share_the_list(workdir: Path) -> None:
    """What the CLI adds blocks a send through the API and shows there; what the API adds the
    CLI shows, a lapsed entry marked as such; `list` walks every page of a long list."""
    serve = server(workdir).start()
    try:
        assert cli(serve.env, "add", "gus@example.org").returncode == 0
        accepted = post_email(serve.url, {**EMAIL, "to": ["gus@example.org"]}).json()
        assert accepted["suppressed"] == ["to[0]"]
        status = f"{serve.url}/api/v1/email/{accepted['id']}"
        wait_for(lambda: request("GET", status).json()["status"] == "suppressed", 30, "the end")
        shown = request("GET", f"{serve.url}/api/v1/suppressions/{quote('gus@example.org')}")
        assert shown.json()["data"][0]["reason"] == "manual"
        lapses = time.time() + 1
        expires = datetime.fromtimestamp(lapses, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        entry = {"address": "hal@example.org", "expiresAt": expires}
        assert request("POST", f"{serve.url}/api/v1/suppressions", entry).status == 201
        wait_for(lambda: time.time() > lapses + 0.1, 10, "the entry to lapse")
        [hal] = rows(cli(serve.env, "show", "hal@example.org"))
        assert "(lapsed)" in hal
        many = [{"address": f"n{i}@example.org"} for i in range(1000)]
        assert request("POST", f"{serve.url}/api/v1/suppressions", many).json() == {"added": 1000}
    finally:
        serve.stop()
    listed = [r[0] for r in rows(cli(serve.env, "list"))]
    assert len(listed) == len(set(listed)) == 1002


def _stored_bytes(workdir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in workdir.glob("postroom.db*"))


def test_with_both_keys_no_address_is_stored_in_the_clear(workdir: Path) -> None:
    """With POSTROOM_ADDRESS_KEY and POSTROOM_ENCRYPTION_KEYS the database file never holds
    the address, and the CLI with those keys finds it; with another address key it does not."""
    key = run_cli("encryption", "new-key").stdout.strip()
    keys = {"POSTROOM_ADDRESS_KEY": "a long secret", "POSTROOM_ENCRYPTION_KEYS": key}
    serve = server(workdir, keys).start()
    try:
        entry = {"address": "zq7sealed@example.org"}
        assert request("POST", f"{serve.url}/api/v1/suppressions", entry).status == 201
        assert cli(serve.env, "add", "zq7cli@example.org").returncode == 0
        both = request("GET", f"{serve.url}/api/v1/suppressions?limit=10").json()["data"]
        assert sorted(e["address"] for e in both) == ["zq7cli@example.org", "zq7sealed@example.org"]
    finally:
        serve.stop()
    assert b"zq7" not in _stored_bytes(workdir)
    assert len(rows(cli(serve.env, "show", "zq7sealed@example.org"))) == 1
    other = {**serve.env, "POSTROOM_ADDRESS_KEY": "another secret"}
    assert cli(other, "show", "zq7sealed@example.org").returncode == 1
    listed = rows(cli(other, "list"))
    assert sorted(r[0] for r in listed) == ["zq7cli@example.org", "zq7sealed@example.org"]


def test_encryption_without_an_address_key_is_warned_about(workdir: Path) -> None:
    """With POSTROOM_ENCRYPTION_KEYS and no POSTROOM_ADDRESS_KEY the server says, at start,
    that addresses are looked up by an unkeyed hash; with both keys it says nothing."""
    key = run_cli("encryption", "new-key").stdout.strip()
    for env, warned in (
        ({"POSTROOM_ENCRYPTION_KEYS": key}, True),
        ({"POSTROOM_ENCRYPTION_KEYS": key, "POSTROOM_ADDRESS_KEY": "a long secret"}, False),
    ):
        serve = server(workdir, env).start()
        serve.stop()
        assert ("addresses.unkeyed_hash" in serve.output()) is warned


def test_without_encryption_the_address_is_stored_in_the_clear(tmp_path: Path) -> None:
    """Without POSTROOM_ENCRYPTION_KEYS the address is kept as it is, like all content."""
    env = database(tmp_path)
    assert cli(env, "add", "zq7plain@example.org").returncode == 0
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))
    assert b"zq7plain@example.org" in stored


def _key(api: Server, *args: str) -> str:
    made = run_cli(
        "keys", "create", *args, "--scope", "send,suppressions", env=api.env, cwd=api.workdir
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_keys_of_a_tenant_share_its_list(workdir: Path) -> None:
    """`keys create --tenant`: its key sees the tenant's entries, the CLI's --tenant too; a key
    of the default tenant sees none of them."""
    api = server(workdir, {"POSTROOM_INSECURE_NO_AUTH": "false"}, command="api").start()
    try:
        acme = _key(api, "--name", "acme", "--tenant", "acme")
        plain = _key(api, "--name", "plain")
        assert cli(api.env, "add", "ivy@example.org", "--tenant", "acme").returncode == 0
        path = f"{api.url}/api/v1/suppressions/{quote('ivy@example.org')}"

        def sees(token: str) -> int:
            return request("GET", path, headers={"Authorization": f"Bearer {token}"}).status

        wait_for(lambda: sees(acme) == 200, 10, "the acme key")
        wait_for(lambda: sees(plain) != 401, 10, "the plain key")
        assert sees(plain) == 404
        sent = post_email(
            api.url, {**EMAIL, "to": ["ivy@example.org"]}, Authorization=f"Bearer {acme}"
        )
        assert sent.json()["suppressed"] == ["to[0]"]
        other = post_email(
            api.url, {**EMAIL, "to": ["ivy@example.org"]}, Authorization=f"Bearer {plain}"
        )
        assert "suppressed" not in other.json()
    finally:
        api.stop()


@pytest.mark.parametrize("tenant", ["", "  ", "two\nlines"])
def test_keys_create_refuses_an_empty_tenant(tmp_path: Path, tenant: str) -> None:
    """`keys create --tenant` with an empty or multi-line name is exit 2; no key is made."""
    env = database(tmp_path)
    result = run_cli("keys", "create", "--name", "ci", "--tenant", tenant, env=env)
    assert result.returncode == 2
    assert "--tenant" in result.stderr
    listing = run_cli("keys", "list", env=env)
    assert listing.stdout.splitlines()[1:] == []


def test_help_lists_the_verbs() -> None:
    """`postroom suppressions --help` names list, add, remove and show."""
    result = run_cli("suppressions", "--help")
    assert result.returncode == 0
    for verb in ("list", "add", "remove", "show"):
        assert verb in result.stdout
    assert "--tenant" in run_cli("suppressions", "add", "--help").stdout
