"""Log lines: the rate-limited warning, the text format, and masking secrets in URLs."""

import json
import logging

import pytest

from postroom.logs import JsonLineFormatter, RateLimitedLog, TextLineFormatter, mask_url


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(JsonLineFormatter().format(record)))


@pytest.fixture
def logged() -> "tuple[logging.Logger, Lines]":
    logger = logging.getLogger("postroom.test_logs")
    handler = Lines()
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, handler


def test_a_repeated_warning_is_logged_once_per_period_with_the_count_left_out(
    logged: "tuple[logging.Logger, Lines]",
) -> None:
    """Within 10 s a warning goes out once; the next one says how many were suppressed."""
    logger, handler = logged
    clock = Clock()
    rarely = RateLimitedLog(10.0, clock)
    assert rarely(logger, "email.storage_unavailable", error="X") is True
    for _ in range(5):
        clock.now += 1.0
        assert rarely(logger, "email.storage_unavailable", error="X") is False
    clock.now += 5.0  # 10 s after the first
    assert rarely(logger, "email.storage_unavailable", error="X") is True
    assert [line.get("suppressed") for line in handler.lines] == [None, 5]
    assert handler.lines[1]["error"] == "X"


def test_each_named_warning_has_its_own_period(logged: "tuple[logging.Logger, Lines]") -> None:
    """A second event name is not held back by the first."""
    logger, handler = logged
    rarely = RateLimitedLog(10.0, Clock())
    rarely(logger, "email.storage_unavailable")
    rarely(logger, "worker.storage_unavailable")
    assert [line["event"] for line in handler.lines] == [
        "email.storage_unavailable",
        "worker.storage_unavailable",
    ]


def test_text_lines_carry_the_same_fields_as_json() -> None:
    """A text line holds the event and every field of the JSON line, and nothing else."""
    record = logging.LogRecord("postroom.api", logging.INFO, "", 0, "email.accepted", None, None)
    record.fields = {"id": "019a", "state": "queued", "ms": 2.5, "fields": ["to", "cc"]}
    text = TextLineFormatter().format(record)
    head = " info    postroom.api  email.accepted  "
    assert text.endswith(head + 'id=019a state=queued ms=2.5 fields="[\\"to\\", \\"cc\\"]"')


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mailgun://key-S3CRET@mg.example.com?region=eu", "mailgun://***@mg.example.com?region=eu"),
        (
            "sendgrid://SG.S3CRET?base_url=http://127.0.0.1:9",
            "sendgrid://***?base_url=http://127.0.0.1:9",
        ),
        ("postmark://S3CRET", "postmark://***"),
        (
            "smtp://ann:S3CRET@smtp.example.com:587?tls=starttls",
            "smtp://ann:***@smtp.example.com:587?tls=starttls",
        ),
        (
            "postgresql://app:S3CRET@db:5432/mail?sslmode=require",
            "postgresql://app:***@db:5432/mail?sslmode=require",
        ),
        ("postgresql://app@db/mail?password=S3CRET", "postgresql://app@db/mail?password=***"),
        ("ses://eu-west-1?secret_access_key=S3CRET", "ses://eu-west-1?secret_access_key=***"),
        (
            "mailgun://k@d?base_url=http://u:S3CRET@proxy:1/",
            "mailgun://***@d?base_url=http://u:***@proxy:1/",
        ),
        ("sqlite:///./postroom.db", "sqlite:///./postroom.db"),
        ("outbox://./outbox", "outbox://./outbox"),
    ],
)
def test_urls_are_shown_without_their_secrets(url: str, shown: str) -> None:
    """Passwords, keys and tokens become ***; the rest of the URL stays readable."""
    assert mask_url(url) == shown
