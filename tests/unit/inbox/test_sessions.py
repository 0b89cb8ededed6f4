"""Inbox sessions: random ids that expire, bounded in number."""

import pytest

from postroom.web import sessions as sessions_module
from postroom.web.sessions import SESSION_SECONDS, Sessions, same_token


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_session_expires() -> None:
    """A session holds for SESSION_SECONDS, then is gone."""
    ticks = Ticks()
    sessions = Sessions(ticks)
    session_id, session = sessions.open("pr_key")
    assert sessions.get(session_id) == session
    assert session.key not in session_id
    ticks.now = SESSION_SECONDS - 1
    assert sessions.get(session_id) is not None
    ticks.now = SESSION_SECONDS
    assert sessions.get(session_id) is None


def test_ids_are_random_and_closing_ends_one() -> None:
    """Two logins get two ids; logging out ends only its own."""
    sessions = Sessions(Ticks())
    first, _ = sessions.open("pr_a")
    second, _ = sessions.open("pr_a")
    assert first != second
    assert len(first) >= 40
    sessions.close(first)
    assert sessions.get(first) is None
    assert sessions.get(second) is not None
    assert sessions.get(None) is None
    assert sessions.get("guess") is None


def test_sessions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_SESSIONS the oldest goes: posting logins cannot grow memory without end."""
    monkeypatch.setattr(sessions_module, "MAX_SESSIONS", 3)
    sessions = Sessions(Ticks())
    ids = [sessions.open("pr_k")[0] for _ in range(4)]
    assert sessions.get(ids[0]) is None
    assert all(sessions.get(i) is not None for i in ids[1:])


def test_tokens_compare_whole() -> None:
    """A token matches only itself; a missing one never."""
    assert same_token("abc", "abc")
    assert not same_token("abd", "abc")
    assert not same_token(None, "abc")
    assert not same_token("", "abc")
