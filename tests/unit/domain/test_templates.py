"""Template definitions: what parse_definition accepts, and the values a send renders with."""

import pytest

from postroom.domain.errors import InvalidEmailError
from postroom.domain.templates import MAX_PART_CHARS, Variable, parse_definition


def errors_of(data: object, name: str | None = None) -> dict[str, str]:
    with pytest.raises(InvalidEmailError) as refusal:
        parse_definition(data, name)
    return refusal.value.errors


def test_a_full_definition_is_read_as_given() -> None:
    """Every part and each variable's name, required flag and default are kept."""
    found = parse_definition(
        {
            "name": "welcome",
            "subject": "Hi",
            "html": "<p>x</p>",
            "text": "x",
            "layout": "<body>{{ content }}</body>",
            "variables": [{"name": "a", "required": True}, {"name": "b", "default": 3}],
        }
    )
    assert found.variables == (Variable("a", True, None), Variable("b", False, 3))
    assert (found.subject, found.layout) == ("Hi", "<body>{{ content }}</body>")


def test_every_bad_field_is_named_at_once() -> None:
    """A bad name, a non-string part, an oversized part and bad variables are all listed."""
    errors = errors_of(
        {
            "name": "Bad Name",
            "subject": 5,
            "html": "x" * (MAX_PART_CHARS + 1),
            "layout": "<body></body>",
            "variables": [{"name": "content"}, {"name": "ok", "required": "yes"}, "x"],
        }
    )
    assert set(errors) == {
        "name",
        "subject",
        "html",
        "layout",
        "variables[0].name",
        "variables[1].required",
        "variables[2]",
    }


def test_a_body_is_needed_and_names_must_match_the_path() -> None:
    """Neither html nor text is refused; a PUT body naming another template is refused."""
    assert "html" in errors_of({"name": "t", "subject": "Hi"})
    assert errors_of({"name": "other", "text": "x"}, "t") == {
        "name": "must match the template's path"
    }
    assert parse_definition({"text": "x"}, "t").name == "t"


def test_values_put_given_variables_over_defaults_and_list_missing_ones() -> None:
    """Defaults fill gaps, given values win, and each missing required variable is named."""
    definition = parse_definition(
        {
            "name": "t",
            "text": "x",
            "variables": [{"name": "a", "required": True}, {"name": "b", "default": "B"}],
        }
    )
    assert definition.values({"a": 1}) == {"a": 1, "b": "B"}
    assert definition.values({"a": 1, "b": 2, "c": 3}) == {"a": 1, "b": 2, "c": 3}
    with pytest.raises(InvalidEmailError) as refusal:
        definition.values({})
    assert refusal.value.errors == {"variables.a": "is required by the template"}
    with pytest.raises(InvalidEmailError):
        definition.values(["a"])
