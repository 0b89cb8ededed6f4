"""Template definitions: what a tenant stores, and the variables a send gives (docs/templates.md).

Pure shape checks only. Whether the Liquid in a definition parses, and what it renders to, is
services/templates.py's business; a definition that passes here may still be refused there.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from postroom.domain.errors import InvalidEmailError
from postroom.domain.rules import counted

# Lower-case, URL-safe without escaping: a name is a path segment of the API.
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Source sizes bound parsing time, so they are checked before Liquid ever sees the text.
MAX_SUBJECT_CHARS = 2000
MAX_PART_CHARS = 256 * 1024  # html, text, layout: each
MAX_VARIABLES = 100
MAX_DEFAULT_CHARS = 10_000
# Filled by the layout with the rendered HTML body; a declared variable of this name is refused.
CONTENT = "content"
PARTS = ("subject", "html", "text", "layout")
# The fields of an email request a template replaces: giving both is ambiguous.
REPLACED = ("subject", "body", "text", "html")


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    required: bool = False
    # Used when a send does not give the variable; None: no default.
    default: Any = None


@dataclass(frozen=True, slots=True)
class TemplateDefinition:
    name: str
    subject: str = ""
    html: str = ""
    text: str = ""
    # An HTML document wrapping the HTML body, which it places with {{ content }}.
    layout: str = ""
    variables: tuple[Variable, ...] = field(default=())

    def values(self, given: Any) -> dict[str, Any]:
        """The render context for a send's `variables`: the given values over the declared
        defaults. InvalidEmailError listing every required variable not given."""
        if given is None:
            given = {}
        if not isinstance(given, dict):
            raise InvalidEmailError({"variables": "must be an object of name to value"})
        missing = {
            f"variables.{v.name}": "is required by the template"
            for v in self.variables
            if v.required and given.get(v.name) is None
        }
        if missing:
            raise InvalidEmailError(missing)
        defaults = {v.name: v.default for v in self.variables if v.default is not None}
        return {**defaults, **given}


def parse_definition(data: Any, name: str | None = None) -> TemplateDefinition:
    """The definition a decoded request describes; InvalidEmailError naming every bad field.
    With `name` (PUT to a template's path), a `name` in the body must match or be absent."""
    if not isinstance(data, dict):
        raise InvalidEmailError({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    found = data.get("name", name)
    if not isinstance(found, str) or not NAME.fullmatch(found):
        errors["name"] = "must be 1 to 64 of a-z, 0-9, _ . - starting with a letter or digit"
    elif name is not None and found != name:
        errors["name"] = "must match the template's path"
    parts = {part: _part(errors, part, data.get(part)) for part in PARTS}
    if not parts["html"] and not parts["text"]:
        errors.setdefault("html", "give html or text (or both)")
    if parts["layout"] and "content" not in parts["layout"]:
        errors["layout"] = "must place the body with {{ content }}"
    variables = _variables(errors, data.get("variables"))
    if errors:
        raise InvalidEmailError(errors)
    return TemplateDefinition(str(found), **parts, variables=variables)


def _part(errors: dict[str, str], path: str, value: Any) -> str:
    most = MAX_SUBJECT_CHARS if path == "subject" else MAX_PART_CHARS
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[path] = "must be a string"
        return ""
    if len(value) > most:
        errors[path] = f"longer than {counted(most, 'character')}"
    return value


def _variables(errors: dict[str, str], value: Any) -> tuple[Variable, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_VARIABLES:
        errors["variables"] = f"must be a list of at most {counted(MAX_VARIABLES, 'variable')}"
        return ()
    found = [_variable(errors, f"variables[{i}]", item) for i, item in enumerate(value)]
    names = [v.name for v in found if v is not None]
    if len(set(names)) < len(names):
        errors.setdefault("variables", "declares a name twice")
    return tuple(v for v in found if v is not None)


def _variable(errors: dict[str, str], path: str, item: Any) -> Variable | None:
    if not isinstance(item, dict):
        errors[path] = "must be an object with name, required and default"
        return None
    name, required, default = item.get("name"), item.get("required", False), item.get("default")
    before = len(errors)
    if not isinstance(name, str) or not VARIABLE_NAME.fullmatch(name) or name == CONTENT:
        errors[f"{path}.name"] = "must be a Liquid name (letters, digits, _), not content"
    if not isinstance(required, bool):
        errors[f"{path}.required"] = "must be true or false"
    if not isinstance(default, str | int | float | bool | None) or (
        isinstance(default, str) and len(default) > MAX_DEFAULT_CHARS
    ):
        errors[f"{path}.default"] = (
            f"must be a string of at most {counted(MAX_DEFAULT_CHARS, 'character')},"
            " a number or a boolean"
        )
    return Variable(str(name), bool(required), default) if len(errors) == before else None
