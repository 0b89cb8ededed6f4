"""The OpenAPI description of /api/v1/providers (api/providers.py): the list, pause, resume."""

from typing import Any

from postroom.api.openapi_parts import UNAUTHORIZED, UNAVAILABLE, answer, error, operation
from postroom.domain.keys import ADMIN

_TIME = {
    "type": ["string", "null"],
    "format": "date-time",
    "examples": ["2026-12-01T10:00:00.000Z"],
}


def _nullable(kind: str, description: str, **more: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], "description": description, **more}


_PROVIDER = {
    "type": "object",
    "required": ["name", "configured", "circuit", "paused", "attempts"],
    "description": "One provider: its circuit as this process knows it, its pause, and its "
    "calls of the last hour. No address and no content.",
    "properties": {
        "name": {
            "type": "string",
            "description": "its name, as metrics and the dashboard show it",
            "examples": ["mailgun"],
        },
        "configured": {
            "type": "boolean",
            "description": "in POSTROOM_PROVIDERS; false for one only called in the last hour "
            "or still paused by an older configuration",
        },
        "circuit": _nullable(
            "string",
            "closed, open or half_open; null when this process does not know it (an `api` "
            "process on SQLite runs no worker and the store shares no circuits)",
            enum=["closed", "open", "half_open", None],
            examples=["closed"],
        ),
        "failures": _nullable("integer", "consecutive failures the circuit counted"),
        "until": {
            **_TIME,
            "description": "open: closed to traffic until then; half_open: the probe's "
            "deadline; null when closed",
        },
        "paused": {"type": "boolean", "description": "an operator paused it"},
        "pausedAt": {**_TIME, "description": "since when it is paused; null when it is not"},
        "attempts": {
            "type": "integer",
            "minimum": 0,
            "description": "its calls in the last hour (from the start of the minute an hour ago)",
        },
        "successRate": _nullable("number", "the share of those calls it accepted; null: none"),
        "p50Ms": _nullable(
            "integer", "half of those calls took at most this many milliseconds; null: none timed"
        ),
        "p99Ms": _nullable(
            "integer", "99 in 100 of those calls took at most this many milliseconds"
        ),
    },
}
_PROVIDERS = {
    "type": "object",
    "required": ["data", "circuits", "pauses"],
    "description": "The providers: the configured ones in their order, then the others.",
    "properties": {
        "data": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Provider"},
            "description": "one entry per provider",
        },
        "circuits": {
            "type": "string",
            "enum": ["worker", "shared", "none"],
            "description": "whose circuits: this process's worker's, every worker's (shared "
            "through PostgreSQL), or none known here",
        },
        "pauses": {
            "type": "boolean",
            "description": "the store keeps pauses (false: pause and resume answer 404)",
        },
    },
}
_PAUSED = {
    "type": "object",
    "required": ["provider", "paused"],
    "description": "A pause made (or found already made).",
    "properties": {
        "provider": {"type": "string", "description": "the provider's name"},
        "paused": {"type": "boolean", "description": "false: it was paused already"},
    },
}
_RESUMED = {
    "type": "object",
    "required": ["provider", "resumed"],
    "description": "A pause lifted (or none found).",
    "properties": {
        "provider": {"type": "string", "description": "the provider's name"},
        "resumed": {"type": "boolean", "description": "false: it was not paused"},
    },
}
PROVIDER_SCHEMAS = {
    "Provider": _PROVIDER,
    "Providers": _PROVIDERS,
    "ProviderPaused": _PAUSED,
    "ProviderResumed": _RESUMED,
}
_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "the provider's name (GET /api/v1/providers lists them)",
    "schema": {"type": "string", "examples": ["mailgun"]},
}


def _action(operation_id: str, summary: str, schema: str, not_found: str) -> dict[str, Any]:
    return operation(
        operation_id,
        summary,
        {
            "200": answer("done; every worker on the store follows within about a second", schema),
            "401": UNAUTHORIZED,
            "404": error(not_found),
            "503": UNAVAILABLE,
        },
        ADMIN,
        parameters=[_NAME],
    )


def provider_paths() -> dict[str, Any]:
    listed = operation(
        "listProviders",
        "The providers, their circuits, pauses and last hour",
        {"200": answer("the providers", "Providers"), "401": UNAUTHORIZED, "503": UNAVAILABLE},
        ADMIN,
    )
    return {
        "/api/v1/providers": {"get": listed},
        "/api/v1/providers/{name}/pause": {
            "post": _action(
                "pauseProvider",
                "Pause a provider: emails fail over to the next, or wait",
                "ProviderPaused",
                "no provider of this name is configured, or the store keeps no pauses",
            )
        },
        "/api/v1/providers/{name}/resume": {
            "post": _action(
                "resumeProvider",
                "Resume a paused provider",
                "ProviderResumed",
                "no provider of this name is configured or paused, or the store keeps no pauses",
            )
        },
    }
