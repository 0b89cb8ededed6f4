"""The connection settings: read from their variables, checked, and given to the guard."""

import pytest

from postroom.cli.serving import connection_limits
from postroom.settings import SettingsError, load_settings


def test_connection_settings_reach_the_guard() -> None:
    """The per-client cap and header timeout from the environment are the guard's limits."""
    settings = load_settings(
        {
            "POSTROOM_MAX_CONNECTIONS": "50",
            "POSTROOM_MAX_CONNECTIONS_PER_CLIENT": "0",
            "POSTROOM_HEADER_TIMEOUT": "3",
            "POSTROOM_KEEPALIVE_TIMEOUT": "2",
        }
    )
    limits = connection_limits(settings)
    assert (limits.total, limits.per_client, limits.header_timeout) == (50, 0, 3)
    assert settings.keepalive_timeout == 2


def test_connection_defaults() -> None:
    """By default a client may hold a tenth of the slots; headers get 10 s, idle 5 s."""
    settings = load_settings({})
    assert settings.max_connections_per_client * 10 == settings.max_connections
    assert (settings.header_timeout, settings.keepalive_timeout) == (10, 5)


@pytest.mark.parametrize(
    "variable",
    [
        "POSTROOM_HEADER_TIMEOUT",
        "POSTROOM_KEEPALIVE_TIMEOUT",
        "POSTROOM_MAX_CONNECTIONS_PER_CLIENT",
    ],
)
def test_bad_connection_settings_stop_start_up(variable: str) -> None:
    """A negative or non-numeric value is refused with the variable's name."""
    for raw in ("-1", "soon"):
        with pytest.raises(SettingsError, match=variable):
            load_settings({variable: raw})
