"""The simulator's record of accepted emails."""

import json

from postroom.simulator.behaviour import Accepted


def test_raw_json_body_is_decoded_when_read() -> None:
    """A JSON body kept raw reads back as the decoded payload, in every listing."""
    body = {"personalizations": [{"to": [{"email": "ann@example.org"}]}], "subject": "Hé"}
    accepted = Accepted("sendgrid", "sim-00000001", raw=json.dumps(body).encode(), at=12.5)

    assert accepted.payload == body
    assert accepted.as_dict() == {
        "provider": "sendgrid",
        "message_id": "sim-00000001",
        "payload": body,
        "files": [],
        "at": 12.5,
    }


def test_decoded_payload_is_kept_as_given() -> None:
    """A form already decoded (Mailgun) is recorded as it is, with its files."""
    files = [{"field": "attachment", "filename": "a.txt", "size": 1}]
    accepted = Accepted("mailgun", "<sim-1@mg>", {"to": ["ann@example.org"]}, files)

    assert accepted.payload == {"to": ["ann@example.org"]}
    assert accepted.files == files
    assert accepted.at > 0
