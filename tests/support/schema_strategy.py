"""Hypothesis strategies for the values a JSON Schema allows, built from the schema itself.

Covers the keywords the OpenAPI document uses ($ref, oneOf, type, enum, string lengths and
patterns, array and object bounds, propertyNames, additionalProperties, numeric bounds). Each value
is then checked against the whole schema with jsonschema, so keywords it does not build towards
(`not`, lookaheads) still hold: what comes out is valid against the schema, nothing more assumed.
"""

from typing import Any

import jsonschema
from hypothesis import strategies as st

# JSON text is UTF-8: lone surrogates cannot be sent, whatever a pattern allows.
_CHARACTERS = st.characters(exclude_categories=["Cs"])
_MAX_ITEMS = 3  # small lists and objects keep requests quick to build and to send


def from_schema(
    schema: dict[str, Any], document: dict[str, Any], overrides: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    """Values valid against `schema`, whose $refs point into `document`. `overrides` replace the
    strategy of top-level properties the schema cannot bound by itself."""
    validator = jsonschema.Draft202012Validator(
        {**schema, "components": document["components"]},
    )
    return _Builder(document, overrides).build(schema).filter(validator.is_valid)


class _Builder:
    def __init__(self, document: dict[str, Any], overrides: dict[str, Any]) -> None:
        self.document = document
        self.overrides = overrides

    def build(self, schema: dict[str, Any], top: bool = True) -> st.SearchStrategy[Any]:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return self.build(self.document["components"]["schemas"][name], top=False)
        if "oneOf" in schema:
            return st.one_of(
                [self.build(alternative, top=False) for alternative in schema["oneOf"]]
            )
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        kinds = schema.get("type", "string")
        if isinstance(kinds, list):
            return st.one_of([self.build({**schema, "type": kind}, top) for kind in kinds])
        return self.typed(kinds, schema, top)

    def typed(self, kind: str, schema: dict[str, Any], top: bool) -> st.SearchStrategy[Any]:
        if kind == "string":
            return _string(schema)
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind in ("number", "integer"):
            return _number(kind, schema)
        if kind == "array":
            size = min(schema.get("maxItems", _MAX_ITEMS), _MAX_ITEMS)
            items = self.build(schema.get("items", {}), top=False)
            return st.lists(items, min_size=schema.get("minItems", 0), max_size=size)
        return self.object(schema, top)

    def object(self, schema: dict[str, Any], top: bool) -> st.SearchStrategy[Any]:
        properties = schema.get("properties", {})
        overrides = self.overrides if top else {}

        def strategy(name: str) -> st.SearchStrategy[Any]:
            override = overrides.get(name)
            return override if override is not None else self.build(properties[name], False)

        if properties:
            required = set(schema.get("required", []))
            return st.fixed_dictionaries(
                {name: strategy(name) for name in properties if name in required},
                optional={name: strategy(name) for name in properties if name not in required},
            )
        values = schema.get("additionalProperties", {})
        names = schema.get("propertyNames", {})
        size = min(schema.get("maxProperties", _MAX_ITEMS), _MAX_ITEMS)
        return st.dictionaries(
            _string(names),
            self.build(values if isinstance(values, dict) else {}, False),
            max_size=size,
        )


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 60)
    if "pattern" in schema:
        text = st.from_regex(schema["pattern"], fullmatch=True, alphabet=_CHARACTERS)
        return text.filter(lambda value: low <= len(value) <= high)
    return st.text(_CHARACTERS, min_size=low, max_size=min(high, 60))


def _number(kind: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    low = schema.get("minimum")
    high = schema.get("maximum")
    if "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - 1
    if kind == "integer":
        return st.integers(min_value=low, max_value=high)
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
