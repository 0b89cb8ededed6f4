"""The dashboard's JSON views: rates and their warnings, the hour's buckets, what is left out."""

from postroom.dashboard import Circuits, ProviderState, views
from postroom.ports.activity import KINDS, Activity, ProviderAttempts
from postroom.ports.webhooks import Attempt, Endpoint


def totals(**counts: int) -> dict[str, int]:
    return {kind: counts.get(kind, 0) for kind in KINDS}


def test_rates_are_none_until_a_provider_reports() -> None:
    """No delivered or bounced recipient yet: no rate, no warning."""
    found = views.rates(totals(accepted=10, sent=10))
    assert (found["bounce"], found["complaint"]) == (None, None)
    assert not found["bounceWarning"]
    assert not found["complaintWarning"]


def test_rates_warn_above_their_thresholds() -> None:
    """5 % bounces is not yet a warning, just above is; 0.1 % complaints likewise."""
    at = views.rates(totals(delivered=950, bounced=50, complained=1))
    assert (at["bounce"], at["complaint"]) == (0.05, 0.001)
    assert not at["bounceWarning"]
    assert not at["complaintWarning"]
    above = views.rates(totals(delivered=940, bounced=60, complained=2))
    assert above["bounceWarning"]
    assert above["complaintWarning"]


def test_the_hour_ends_with_the_current_minute() -> None:
    """Sixty one-minute buckets, the last one holding now."""
    now = 1_800_000_125.0
    start = views.hour_start(now)
    assert start % 60 == 0
    assert start + (views.BUCKETS - 1) * 60 <= now < start + views.BUCKETS * 60


def test_activity_totals_sum_the_series() -> None:
    counts = {kind: [0] * 3 for kind in KINDS}
    counts["sent"] = [1, 2, 3]
    found = views.activity_json(Activity(1_800_000_000.0, 60.0, counts))
    assert found is not None
    assert found["totals"]["sent"] == 6
    assert found["since"] == "2027-01-15T08:00:00.000Z"


def test_an_endpoint_is_shown_without_its_query_or_response_bodies() -> None:
    """A query string may hold the application's token, a response body anything at all."""
    endpoint = Endpoint(
        "ep_1",
        "default",
        "https://hooks.example.com:8443/in?token=s3cret",
        (),
        "",
        True,
        (),
        0.0,
        0.0,
    )
    attempt = Attempt(1, "msg_1", "ep_1", 0.0, 500, 0.25, response="echo: ann@example.org")
    found = views.endpoint_json(endpoint, [attempt])
    assert found["url"] == "https://hooks.example.com:8443/in"
    assert found["attempts"] == [
        {"at": "1970-01-01T00:00:00.000Z", "status": 500, "latencyMs": 250, "error": ""}
    ]


def test_providers_carry_their_calls_and_success_rate() -> None:
    """A circuit's provider gets its hour's calls; one without calls has no rate; one called
    but without a circuit here is listed with its calls alone."""
    circuits = Circuits("worker", [ProviderState("mailgun", "closed", 0, 0.0)])
    called = [ProviderAttempts("mailgun", 4, 3), ProviderAttempts("ses", 2, 2)]
    found = views.circuits_json(circuits, called)
    assert [
        (p["name"], p["state"], p["attempts"], p["successRate"]) for p in found["providers"]
    ] == [
        ("mailgun", "closed", 4, 0.75),
        ("ses", None, 2, 1.0),
    ]
    idle = views.circuits_json(circuits, [])["providers"][0]
    assert (idle["attempts"], idle["successRate"]) == (0, None)


def test_providers_show_their_pauses_and_which_can_be_paused() -> None:
    """Every configured provider is listed (with no state when its circuit is not known
    here) and can be paused; a paused one carries its time; a pause of a provider no longer
    configured is listed so that it can be resumed, not paused; without a pause store none is
    pausable."""
    circuits = Circuits("none", [ProviderState("mailgun", "open", 5, 60.0)])
    found = views.circuits_json(
        circuits, [], {"sendgrid": 0.0, "old": 0.0}, ["mailgun", "sendgrid"]
    )
    assert found["pauses"] is True
    assert [
        (p["name"], p["state"], p["paused"], p["pausedAt"], p["pausable"])
        for p in found["providers"]
    ] == [
        ("mailgun", "open", False, None, True),
        ("sendgrid", None, True, "1970-01-01T00:00:00.000Z", True),
        ("old", None, True, "1970-01-01T00:00:00.000Z", False),
    ]
    without = views.circuits_json(circuits, [], None, ["mailgun"])
    assert without["pauses"] is False
    assert [p["pausable"] for p in without["providers"]] == [False]


def test_the_day_ends_with_the_current_hour() -> None:
    """Twenty-four one-hour buckets, the last one holding now; the chart carries only the
    kinds it draws."""
    now = 1_800_000_125.0
    buckets, width = views.RANGES["day"]
    start = views.range_start(now, buckets, width)
    assert (buckets, start % 3600) == (24, 0)
    assert start + 23 * 3600 <= now < start + 24 * 3600
    counts = {kind: [0] * 24 for kind in KINDS}
    found = views.chart_json("day", Activity(start, width, counts))
    assert set(found["series"]) == {"accepted", "sent", "failed"}
    assert (found["range"], found["bucketSeconds"]) == ("day", 3600.0)


def test_providers_carry_their_latency_in_whole_milliseconds() -> None:
    """p50 and p99 are rounded to whole milliseconds, never below 1; a provider whose calls
    were not timed, or that made none, has none."""
    circuits = Circuits("worker", [ProviderState("mailgun", "closed", 0, 0.0)])
    called = [
        ProviderAttempts("mailgun", 4, 3, 0.3, 250.6),
        ProviderAttempts("ses", 2, 2),
    ]
    rows = views.circuits_json(circuits, called, None, ["mailgun", "sendgrid"])["providers"]
    assert [(p["name"], p["p50Ms"], p["p99Ms"]) for p in rows] == [
        ("mailgun", 1, 251),
        ("sendgrid", None, None),
        ("ses", None, None),
    ]
