"""Reading settings from the environment: provider lists and the log format."""

import pytest

from postroom.settings import SettingsError, load_settings


def test_whitespace_around_commas_is_allowed() -> None:
    """`a , b` is two provider URLs, in that order."""
    settings = load_settings({"POSTROOM_PROVIDERS": " outbox://./o1 ,\toutbox://./o2 "})
    assert settings.providers == ("outbox://./o1", "outbox://./o2")


@pytest.mark.parametrize("raw", ["outbox://./o1 outbox://./o2", "outbox://./o1\noutbox://./o2"])
def test_a_space_instead_of_a_comma_is_an_error(raw: str) -> None:
    """Two URLs run together are refused, naming the variable, not read as one folder."""
    with pytest.raises(SettingsError, match=r"^POSTROOM_PROVIDERS: .*commas"):
        load_settings({"POSTROOM_PROVIDERS": raw})


@pytest.mark.parametrize(("raw", "read"), [("TEXT", "text"), ("json", "json"), ("auto", "auto")])
def test_log_format_is_text_json_or_auto(raw: str, read: str) -> None:
    """POSTROOM_LOG_FORMAT takes text, json or auto, in any case."""
    assert load_settings({"POSTROOM_LOG_FORMAT": raw}).log_format == read


def test_an_unknown_log_format_is_refused() -> None:
    """Anything else names the variable."""
    with pytest.raises(SettingsError, match=r"^POSTROOM_LOG_FORMAT: "):
        load_settings({"POSTROOM_LOG_FORMAT": "xml"})
