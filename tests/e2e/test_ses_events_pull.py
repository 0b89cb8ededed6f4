"""SES events read from an SQS queue by a running server's worker (the pull path: no public
endpoint), and `postroom webhooks urls`."""

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from aiobotocore.session import get_session

from tests.support.http import post_email, request
from tests.support.moto import MotoServer
from tests.support.processes import wait_for
from tests.support.server import run_cli, server

ANN = "ann@example.org"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"


async def _sqs(moto: MotoServer, call: str, **args: Any) -> dict[str, Any]:
    session = get_session()
    async with session.create_client("sqs", region_name="us-east-1", endpoint_url=moto.url) as sqs:
        return await getattr(sqs, call)(**args)  # type: ignore[no-any-return]


def sqs(moto: MotoServer, call: str, **args: Any) -> dict[str, Any]:
    return asyncio.run(_sqs(moto, call, **args))


def raw_bounce(email_id: str) -> str:
    """An SES Bounce record as raw message delivery puts it in the queue (no SNS envelope)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return json.dumps(
        {
            "eventType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": ANN, "diagnosticCode": "smtp; 550"}],
                "timestamp": now,
            },
            "mail": {
                "timestamp": now,
                "messageId": "0100018b-0000-0000-0000-000000000000-000000",
                "destination": [ANN],
                "tags": {"postroom_id": [email_id]},
            },
        }
    )


def test_worker_reads_ses_events_from_the_queue(workdir: Path, moto_server: MotoServer) -> None:
    """A bounce put in the SES events queue reaches the email's recipient and the queue is
    emptied: the worker read, recorded, then deleted it."""
    queue_url = sqs(moto_server, "create_queue", QueueName="ses-events")["QueueUrl"]
    ses = f"ses://us-east-1?base_url={moto_server.url}&topic_arns={TOPIC}&events_queue={queue_url}"
    serve = server(workdir, {"POSTROOM_PROVIDERS": f"outbox://{workdir}/outbox,{ses}"}).start()
    try:
        reply = post_email(
            serve.url, {"from": "s@example.com", "to": [ANN], "subject": "Hi", "body": "x"}
        )
        email_id = reply.json()["id"]
        url = f"{serve.url}/api/v1/email/{email_id}"
        wait_for(lambda: request("GET", url).json()["status"] == "sent", 30, "the send")
        sqs(moto_server, "send_message", QueueUrl=queue_url, MessageBody=raw_bounce(email_id))

        def recipients() -> list[str]:
            return [r["state"] for r in request("GET", url).json()["recipients"]]

        wait_for(lambda: recipients() == ["bounced"], 30, "the bounce from the queue")
        attributes = sqs(
            moto_server, "get_queue_attributes", QueueUrl=queue_url, AttributeNames=["All"]
        )["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    finally:
        serve.stop()


def test_webhooks_urls_prints_each_endpoint(workdir: Path) -> None:
    """One line per provider with inbound events, its name in the path when set, and what
    the endpoint still lacks."""
    providers = (
        "mailgun://key@mg.example.com?webhook_signing_key=s,"
        "mailgun://key@mg2.example.com?name=eu,"
        "postmark://token,outbox://./outbox"
    )
    done = run_cli(
        "webhooks", "urls", "--base", "https://mail.example.com/", "--providers", providers
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["mailgun", "https://mail.example.com/webhooks/mailgun"]
    assert lines[1].split() == ["eu", "https://mail.example.com/webhooks/mailgun/eu"]
    assert "webhook_signing_key" in lines[2]
    assert lines[3].split() == ["postmark", "https://mail.example.com/webhooks/postmark"]
    assert "webhook_user" in lines[4]
    assert "outbox" not in done.stdout
