"""Mailgun's `POST /v3/{domain}/messages`, as the simulator serves it.

It checks what Mailgun checks, in Mailgun's words: HTTP basic auth as user "api" (else a bare-text
401 "Forbidden"), then the required fields and address syntax (else 400 `{"message": ...}`).
It answers Mailgun's only success body: 200 `{"id": "<...>", "message": "Queued. Thank you."}`.
"""

import base64
import hashlib
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, hdrs, web

from postroom.simulator.app import simulator_of
from postroom.simulator.behaviour import Accepted

PROVIDER = "mailgun"
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
ADDRESS_FIELDS = ("from", "to", "cc", "bcc")
BODY_FIELDS = ("text", "html", "amp-html", "template")
# Mailgun's wording, as its API returns it (and as client libraries match on it).
MISSING = "'{}' parameter is missing"
NOT_AN_ADDRESS = "'{}' parameter is not a valid address. please check documentation"
NO_BODY = "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified"
QUEUED = "Queued. Thank you."


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, []).append(value)

    def first(self, name: str) -> str:
        return next(iter(self.fields.get(name, [])), "")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v3/{domain}/messages", send_message)
    app.router.add_get("/v4/domains/{domain}", get_domain)


async def _refused(request: web.Request) -> web.StreamResponse | None:
    """The simulator's switches first, then the key: the answer that stops a request, if any."""
    sim = simulator_of(request)
    disturbed = await sim.disturb(PROVIDER)
    if disturbed is not None:
        return disturbed
    if not sim.accepts_key(api_key(request)):
        # Mailgun answers a missing or wrong key with plain text, not JSON.
        return web.Response(status=401, text="Forbidden")
    return None


async def get_domain(request: web.Request) -> web.StreamResponse:
    """`GET /v4/domains/{name}`, read-only: the same switches and auth as sending; every
    domain exists here, active."""
    refused = await _refused(request)
    if refused is not None:
        return refused
    name = request.match_info["domain"]
    domain = {"name": name, "state": "active", "type": "custom", "spam_action": "disabled"}
    return web.json_response(
        {"domain": domain, "receiving_dns_records": [], "sending_dns_records": []}
    )


async def send_message(request: web.Request) -> web.StreamResponse:
    """Switches first, then auth, then the form; record and queue what passes."""
    refused = await _refused(request)
    if refused is not None:
        return refused
    sim = simulator_of(request)
    form = await read_form(request)
    problem = find_problem(form)
    if problem:
        return web.json_response({"message": problem}, status=400)
    message_id = f"<{sim.next_id()}@{request.match_info['domain']}>"
    sim.record(Accepted(PROVIDER, message_id, form.fields, form.files))
    return await sim.answer(
        PROVIDER, request, web.json_response({"id": message_id, "message": QUEUED})
    )


def api_key(request: web.Request) -> str | None:
    """The password of basic auth as user "api"; None for any other credential."""
    scheme, _, encoded = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        return None
    return password if user == "api" else None


async def read_form(request: web.Request) -> Form:
    """Fields as {name: [values]} and files; any other content type reads as an empty form.

    Read by hand rather than with `request.post()`: that caps a form at 1000 fields, and Mailgun
    takes up to 1000 recipients as repeated fields plus everything else.
    """
    try:
        if request.content_type == MULTIPART:
            return await _read_multipart(request)
        if request.content_type == URLENCODED:
            return _read_urlencoded(await request.text())
    except ValueError:  # a malformed body is a form without the required fields
        pass
    return Form()


async def _read_multipart(request: web.Request) -> Form:
    form = Form()
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.filename is None:
            form.add(part.name, await part.text())
            continue
        content = await part.read(decode=True)
        form.files.append(_file(part, bytes(content)))
    return form


def _file(part: BodyPartReader, content: bytes) -> dict[str, Any]:
    # A digest instead of the bytes: a load test must not hold every attachment in memory.
    return {
        "field": part.name,
        "filename": part.filename,
        "content_type": part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream"),
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }


def _read_urlencoded(text: str) -> Form:
    form = Form()
    for name, value in parse_qsl(text, keep_blank_values=True):
        form.add(name, value)
    return form


def find_problem(form: Form) -> str | None:
    """Mailgun's 400 message for the first thing wrong, or None."""
    for name in ("from", "to"):
        if not form.first(name).strip():
            return MISSING.format(name)
    # Only the field's presence: our model allows an empty subject. The wording follows
    # Mailgun's for from and to; its exact text for subject is unconfirmed.
    if "subject" not in form.fields:
        return MISSING.format("subject")
    if not any(value.strip() for name in BODY_FIELDS for value in form.fields.get(name, [])):
        return NO_BODY
    for name in ADDRESS_FIELDS:
        if not all(_valid_addresses(value) for value in form.fields.get(name, [])):
            return NOT_AN_ADDRESS.format(name)
    return None


def _valid_addresses(value: str) -> bool:
    """Whether a field value is one or more comma-separated mailboxes (Mailgun allows both)."""
    found = getaddresses([value])
    return bool(found) and all(_plausible(address) for _, address in found)


def _plausible(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and "." in domain) and not any(c.isspace() for c in address)
