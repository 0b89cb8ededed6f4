"""Postmark's `POST /email`, as the real API checks and answers it.

Bodies marked "verbatim" are Postmark's own words, as quoted in public bug reports and in
django-anymail's tests; the others follow Postmark's shape ({ErrorCode, Message}, HTTP 422) with
our wording. Codes: https://postmarkapp.com/developer/api/overview#error-codes
"""

import re
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

from aiohttp import web

from postroom.simulator.app import simulator_of
from postroom.simulator.behaviour import Accepted, Simulator

# "The maximum number of recipients for each email is 50, including all To, CC, and BCC."
MAX_RECIPIENTS = 50
MAX_METADATA_KEY_CHARS = 20
# Postmark's own address patterns (support article "What does Error Code 300 mean?"), plus its
# RFC 5322 note: no leading, trailing or consecutive dots in the local part.
_MAILBOX = re.compile(r"[a-z0-9.!#$%&'`*+\-/=^_{}|~]+", re.IGNORECASE)
_DOMAIN = re.compile(r"(?:\.?[a-zA-Z0-9-])+")
# Field name as Postmark's messages spell it.
_ADDRESS_FIELDS = (("From", "From"), ("To", "To"), ("Cc", "Cc"), ("Bcc", "Bcc"))
_REPLY_TO = ("ReplyTo", "Reply-To")

# Verbatim (HTTP 401, ErrorCode 10).
MISSING_CREDENTIAL_MESSAGE = (
    "No Account or Server API tokens were supplied in the HTTP headers. Please add a header "
    "for either X-Postmark-Server-Token or X-Postmark-Account-Token."
)
INVALID_CREDENTIAL_MESSAGE = "Request does not contain a valid Server token."
NO_BODY = "Provide either email TextBody or HtmlBody or both."


async def get_server(request: web.Request) -> web.Response:
    """`GET /server`, read-only: the server the token belongs to."""
    refused = await _refused(request)
    if refused is not None:
        return refused
    return web.json_response({"ID": 1, "Name": "Simulator", "Color": "blue"})


async def _refused(request: web.Request) -> web.Response | None:
    """The simulator's switches first, then the token: the answer that stops a request, if any."""
    sim = simulator_of(request)
    disturbed = await sim.disturb("postmark")
    if disturbed is not None:
        return disturbed
    return _check_token(sim, request.headers.get("X-Postmark-Server-Token"))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/email", send_email)
    app.router.add_get("/server", get_server)


async def send_email(request: web.Request) -> web.StreamResponse:
    refused = await _refused(request)
    if refused is not None:
        return refused
    sim = simulator_of(request)
    payload, refused = await _read_json(request)
    if refused is not None:
        return refused
    problem = check_payload(payload)
    if problem is not None:
        return _error(*problem)
    message_id = sim.next_id()
    sim.record(Accepted(provider="postmark", message_id=message_id, payload=payload))
    return await sim.answer("postmark", request, web.json_response(_success(payload, message_id)))


def _check_token(sim: Simulator, token: str | None) -> web.Response | None:
    if sim.accepts_key(token):
        return None
    message = MISSING_CREDENTIAL_MESSAGE if not token else INVALID_CREDENTIAL_MESSAGE
    return web.json_response({"ErrorCode": 10, "Message": message}, status=401)


async def _read_json(request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
    if request.content_type != "application/json":
        return {}, _error(409, "JSON required: send Content-Type: application/json.")
    try:
        payload = await request.json()
    except ValueError:
        return {}, _error(402, "Invalid JSON: the request body could not be parsed.")
    if not isinstance(payload, dict):
        return {}, _error(403, "Incompatible JSON: expected one message object.")
    return payload, None


def check_payload(payload: dict[str, Any]) -> tuple[int, str] | None:
    """(ErrorCode, Message) for the first thing Postmark would refuse, or None."""
    for check in (_check_required, _check_addresses, _check_count, _check_metadata):
        problem = check(payload)
        if problem is not None:
            return problem
    return None


def _check_required(payload: dict[str, Any]) -> tuple[int, str] | None:
    if not _text(payload, "From"):
        return 300, "Invalid 'From' address: ''."
    # Despite the API reference marking To required, Postmark sends a Cc- or Bcc-only email
    # (django-anymail's test_send_without_to_attaches_anymail_status).
    if not any(_text(payload, field) for field in ("To", "Cc", "Bcc")):
        return 300, "Zero recipients specified."
    if not _text(payload, "TextBody") and not _text(payload, "HtmlBody"):
        return 300, NO_BODY
    return None


def _check_addresses(payload: dict[str, Any]) -> tuple[int, str] | None:
    for key, label in (*_ADDRESS_FIELDS, _REPLY_TO):
        for address in _addresses(_text(payload, key)):
            problem = address_problem(address, label)
            if problem is not None:
                return 300, problem
    return None


def address_problem(address: str, field: str) -> str | None:
    """Postmark's message for an address it refuses (verbatim forms), else None."""
    local, at, domain = address.rpartition("@")
    if not at:
        return (
            f"Error parsing '{field}': Illegal email address '{address}'. "
            "It must contain the '@' symbol."
        )
    if not _DOMAIN.fullmatch(domain) or domain.startswith(".") or domain.endswith("."):
        return f"Error parsing '{field}': Illegal email domain '{domain}' in address '{address}'."
    if "." not in domain or not _plain_local_part(local):
        return f"Invalid '{field}' address: '{address}'."
    return None


def _plain_local_part(local: str) -> bool:
    return bool(_MAILBOX.fullmatch(local)) and ".." not in local and local.strip(".") == local


def _check_count(payload: dict[str, Any]) -> tuple[int, str] | None:
    fields = ("To", "Cc", "Bcc")
    count = sum(len(_addresses(_text(payload, field))) for field in fields)
    if count > MAX_RECIPIENTS:
        return 300, f"Maximum of {MAX_RECIPIENTS} recipients allowed per email message."
    return None


def _check_metadata(payload: dict[str, Any]) -> tuple[int, str] | None:
    metadata = payload.get("Metadata") or {}
    if not isinstance(metadata, dict):
        return 300, "Invalid metadata content: expected an object of names to values."
    if any(len(str(key)) > MAX_METADATA_KEY_CHARS for key in metadata):
        return 300, "Invalid metadata content. Field names are limited to 20 characters."
    return None


def _addresses(field: str) -> list[str]:
    """The mailboxes of a comma-separated field; quoted names may hold commas."""
    if not field:
        return []
    return [address or name for name, address in getaddresses([field])]


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def _error(error_code: int, message: str) -> web.Response:
    return web.json_response({"ErrorCode": error_code, "Message": message}, status=422)


def _success(payload: dict[str, Any], message_id: str) -> dict[str, Any]:
    # Postmark's success body; "To" is missing for a Cc- or Bcc-only email.
    body: dict[str, Any] = {
        "SubmittedAt": datetime.now(UTC).isoformat(),
        "MessageID": message_id,
        "ErrorCode": 0,
        "Message": "OK",
    }
    if _text(payload, "To"):
        body = {"To": payload["To"], **body}
    return body
