"""The readable /docs page, rendered from the OpenAPI document: every route with its auth and
answers in status order, every field with its type, limits and description, and a worked
example. Self-contained: nothing is loaded from anywhere else."""

import html
import json
import re
from typing import Any

# Run by tests/e2e/test_docs.py against a live server, so it stays a working example.
PYTHON_EXAMPLE = '''\
import json
import os
import urllib.request

POSTROOM_URL = os.environ.get("POSTROOM_URL", "http://127.0.0.1:8080")
POSTROOM_KEY = os.environ["POSTROOM_KEY"]


def send_email(to, subject, body, idempotency_key=None):
    """What the Celery task did, in one call: Postroom stores the email before it answers
    202, then retries and fails over between providers by itself."""
    headers = {"Authorization": "Bearer " + POSTROOM_KEY, "Content-Type": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key  # a retried call sends one email
    email = {"from": "Shop <shop@example.com>", "to": [to], "subject": subject, "body": body}
    request = urllib.request.Request(
        POSTROOM_URL + "/api/v1/email",
        data=json.dumps(email).encode(),
        headers=headers,
        method="POST",
    )
    # A 4xx or 5xx raises urllib.error.HTTPError; its body is the error envelope.
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["id"]


if __name__ == "__main__":
    # Was: send_welcome_email.delay("ann@example.org")
    print(send_email("ann@example.org", "Welcome", "Hello Ann", idempotency_key="welcome-ann"))
'''

_STYLE = (
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}"
    "table{border-collapse:collapse;width:100%}td,th{padding:.2rem .5rem;text-align:left;"
    "vertical-align:top;border-bottom:1px solid #ddd}pre{background:#f4f4f4;padding:1rem;"
    "overflow:auto}code{font-size:.95em}"
)
_LIMITS = (
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("maxProperties", "at most {} keys"),
    ("minimum", "at least {}"),
    ("exclusiveMaximum", "below {}"),
    ("default", "default {}"),
)


def render(document: dict[str, Any]) -> str:
    """The whole page for `document` (an OpenAPI 3.1 document as built by openapi.py)."""
    schemas = document["components"]["schemas"]
    body = [
        f"<h1>{_e(document['info']['title'])} API {_e(document['info']['version'])}</h1>",
        f"<p>{_prose(document['info']['description'])} Machine-readable: "
        "<a href='/openapi.json'>/openapi.json</a>.</p>",
        _conventions(document),
        *(_operation(m, p, op) for p, ms in document["paths"].items() for m, op in ms.items()),
        "<h2 id='fields'>Fields</h2>",
        *(_schema_table(name, schema) for name, schema in schemas.items()),
        "<h2 id='example'>Replace your Celery task</h2>",
        "<p>Where a Celery task called an email provider (and retried it), call Postroom once; "
        "it answers when the email is stored and does the retrying and failover. Python "
        "standard library only:</p>",
        f"<pre id='example-python'><code>{_e(PYTHON_EXAMPLE)}</code></pre>",
    ]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Postroom API</title><style>{_STYLE}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )


def _conventions(document: dict[str, Any]) -> str:
    bearer = document["components"]["securitySchemes"]["bearer"]
    return (
        "<h2 id='auth'>Authentication</h2>"
        "<p>Send <code>Authorization: Bearer KEY</code> with every request, where KEY is "
        f"{_prose(bearer['description'])}. Routes marked <em>open</em> need no key. A missing, "
        "wrong, revoked or expired key is answered <code>401</code> with "
        "<code>WWW-Authenticate: Bearer</code>; a key without the scope a route names, "
        "<code>403</code>; another key's email looks like a missing one "
        "(<code>404</code>).</p>"
        "<h2 id='conventions'>Conventions</h2><ul>"
        "<li>Every time in an answer is an RFC 3339 string in UTC, such as "
        "<code>2026-11-28T18:46:45.813Z</code>.</li>"
        "<li>Every answer carries <code>X-Request-Id</code>: yours when you send one "
        "(1 to 128 of <code>A-Z a-z 0-9 . _ -</code>), else a new one. Log lines about the "
        "request carry it as <code>request_id</code>.</li>"
        "<li>A method a route does not take is answered <code>405</code> with "
        "<code>Allow</code> listing the methods it does take.</li>"
        "<li>Every error answer uses one envelope (<a href='#schema-Error'>Error</a>).</li>"
        "</ul>"
    )


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    auth = "open (no API key)" if op.get("security") == [] else "API key (Bearer)" + _scope(op)
    parameters = "".join(
        f"<li><code>{_e(p['name'])}</code> ({_e(p['in'])}"
        f"{', required' if p.get('required') else ''}): {_prose(p.get('description', ''))}</li>"
        for p in op.get("parameters", [])
        if "name" in p
    )
    if any("$ref" in p for p in op.get("parameters", [])):
        parameters += "<li><code>X-Request-Id</code> (header): see Conventions</li>"
    body = op.get("requestBody")
    request = ""
    if body:
        name = _ref_name(body["content"]["application/json"]["schema"]["$ref"])
        request = f"<p>Body: <a href='#schema-{name}'>{name}</a> as JSON.</p>"
    answers = "".join(
        f"<li><code>{code}</code> {_prose(answer['description'])}{_answer_schema(answer)}</li>"
        for code, answer in op["responses"].items()
    )
    return (
        f"<h2 id='{op['operationId']}'><code>{method.upper()} {_e(path)}</code></h2>"
        f"<p>{_e(op['summary'])}. {_prose(op.get('description', ''))}</p>"
        f"<p>Operation <code>{op['operationId']}</code>; auth: {auth}.</p>"
        f"{request}<p>Parameters:</p><ul>{parameters}</ul><p>Answers:</p><ul>{answers}</ul>"
    )


def _scope(op: dict[str, Any]) -> str:
    """The words naming the scope the operation's key needs (its `security`), if it names one."""
    needed = [name for need in op.get("security", []) for name in need.get("bearer", [])]
    return f" with the scope <code>{_e(needed[0])}</code> (or admin)" if needed else ""


def _answer_schema(answer: dict[str, Any]) -> str:
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if not schema or "$ref" not in schema:
        return ""
    name = _ref_name(schema["$ref"])
    return f": <a href='#schema-{name}'>{name}</a>"


def _schema_table(name: str, schema: dict[str, Any]) -> str:
    rows = "".join(_rows("", schema, required=False, top=True))
    return (
        f"<h3 id='schema-{name}'>{name}</h3><p>{_prose(schema.get('description', ''))}</p>"
        "<table><tr><th>field</th><th>type</th><th>limits</th><th>description</th>"
        f"<th>example</th></tr>{rows}</table>"
    )


def _rows(path: str, schema: dict[str, Any], required: bool, top: bool = False) -> list[str]:
    """A row for the field at `path`, then rows for the fields inside it."""
    rows = [] if top else [_row(path, schema, required)]
    for alternative in schema.get("oneOf", []):
        if alternative.get("type") == "object":
            rows += _rows(path, alternative, required, top=True)
    needed = set(schema.get("required", []))
    for field, inner in schema.get("properties", {}).items():
        rows += _rows(f"{path}.{field}" if path else field, inner, field in needed)
    items = schema.get("items")
    if isinstance(items, dict) and "properties" in items:
        rows += _rows(f"{path}[]", items, False, top=True)
    return rows


def _row(path: str, schema: dict[str, Any], required: bool) -> str:
    examples = schema.get("examples") or [
        e for alt in schema.get("oneOf", []) for e in alt.get("examples", [])[:1]
    ]
    example = _json_text(examples[0]) if examples else ""
    return (
        f"<tr><td><code>{_e(path)}</code>{' (required)' if required else ''}</td>"
        f"<td>{_type(schema)}</td><td>{_e(_limits(schema))}</td>"
        f"<td>{_prose(schema.get('description', ''))}</td><td><code>{_e(example)}</code></td></tr>"
    )


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"<a href='#schema-{name}'>{name}</a>"
    if "oneOf" in schema:
        return " or ".join(_type(alternative) for alternative in schema["oneOf"])
    kinds = schema.get("type", "any")
    if isinstance(kinds, list):
        return " or ".join(_type({**schema, "type": kind}) for kind in kinds)
    if kinds == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kinds == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of name to {_type(schema['additionalProperties'])}"
    return f"{kinds} ({schema['format']})" if "format" in schema else str(kinds)


def _limits(schema: dict[str, Any]) -> str:
    found = [text.format(schema[key]) for key, text in _LIMITS if key in schema]
    if "enum" in schema:
        found.append("one of " + ", ".join(_json_text(v) for v in schema["enum"]))
    for alternative in schema.get("oneOf", []):
        found += [text.format(alternative[key]) for key, text in _LIMITS if key in alternative]
    return "; ".join(dict.fromkeys(found))


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _prose(text: str) -> str:
    """A description: escaped, with `code` spans as in the Markdown docs."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(text))
