"""The state rules of domain/states.py as SQL text, for the SQL engines' IN-lists."""

from collections.abc import Iterable

from postroom.domain.states import FINAL, WAITING, State


def in_list(states: Iterable[State]) -> str:
    """`'a', 'b'` for `state IN (...)`; the values are the enum's own, never user input."""
    return ", ".join(f"'{state.value}'" for state in sorted(states))


def literal(state: State) -> str:
    return f"'{state.value}'"


# Named so SQL files and statements write {waiting}, {final}, {sending} instead of literals.
STATE_SQL = {
    "waiting": in_list(WAITING),
    "final": in_list(FINAL),
    **{state.name.lower(): literal(state) for state in State},
}
