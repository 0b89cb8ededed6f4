"""The dashboard's HTML: one page whose sections the script fills from /dashboard/api, and the
login page. Nothing here holds data: numbers, ids and states arrive as JSON and are set as text."""

from html import escape

from postroom.domain.circuit import Failure
from postroom.domain.states import State

# Only this package's own script and styles; the script talks only to this origin.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

_TILES = (
    ("ready", "Ready"),
    ("scheduled", "Scheduled"),
    ("inFlight", "In flight"),
    ("dead", "Dead"),
    ("oldestAge", "Oldest ready (s)"),
)
_HOUR = (
    ("accepted", "Accepted"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("delivered", "Delivered"),
    ("bounced", "Bounced"),
    ("complained", "Complained"),
)


def shell(title: str, body: str, csrf: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta name='referrer' content='same-origin'>"
        f"<meta name='csrf-token' content='{escape(csrf)}'>"
        f"<title>{escape(title)}</title>"
        "<link rel='stylesheet' href='/dashboard/static/dashboard.css'>"
        "<script src='/dashboard/static/dashboard.js' defer></script>"
        f"</head><body>{body}</body></html>"
    )


def _tile(key: str, label: str) -> str:
    return (
        f"<div class='tile' id='tile-{key}'><span class='label'>{label}</span>"
        "<span class='value'>&ndash;</span></div>"
    )


def _header(csrf: str, logged_in: bool) -> str:
    logout = (
        "<form method='post' action='/dashboard/logout' class='inline'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
        "<button type='submit'>Log out</button></form>"
        if logged_in
        else ""
    )
    return (
        "<header><a href='/dashboard' class='brand'>Postroom dashboard</a>"
        f"<span id='updated' class='note'></span>{logout}</header>"
    )


def _minute() -> str:
    """The six counts of the current minute so far: whether mail is flowing right now."""
    return "".join(_tile("minute-" + key, label) for key, label in _HOUR)


def _counts(prefix: str) -> str:
    """The six counts and the two rates of one span; `prefix` "" for the hour, "day-"."""
    counts = "".join(_tile(prefix + key, label) for key, label in _HOUR)
    rates = _tile(prefix + "bounceRate", "Bounce rate")
    return counts + rates + _tile(prefix + "complaintRate", "Complaint rate")


def dashboard_page(csrf: str, logged_in: bool) -> str:
    queue = "".join(_tile(key, label) for key, label in _TILES)
    body = (
        _header(csrf, logged_in)
        + "<main>"
        + "<section id='queue'><h2>Queue</h2>"
        + f"<div class='tiles'>{queue}</div></section>"
        + "<section id='minute'><h2>This minute</h2>"
        + f"<div class='tiles'>{_minute()}</div></section>"
        + "<section id='hour'><h2>Last hour</h2>"
        + f"<div class='tiles'>{_counts('')}</div>"
        + "<h2 id='day-title'>Last day <span class='note'>(this hour and the 23 before "
        + "it)</span></h2>"
        + f"<div class='tiles' id='day'>{_counts('day-')}</div>"
        + "<p class='note'>Warning above 5 % bounces or 0.1 % complaints of the recipients "
        + "a provider reported on.</p>"
        + "<figure id='chart'><p class='switch'>"
        + "<button type='button' id='chart-hour' aria-pressed='true'>Last hour</button>"
        + "<button type='button' id='chart-day' aria-pressed='false'>Last day</button></p>"
        + "<svg id='throughput' viewBox='0 0 600 120' "
        + "preserveAspectRatio='none' role='img' "
        + "aria-label='Emails per minute, last hour'></svg>"
        + "<figcaption><span class='key accepted'>accepted</span> "
        + "<span class='key sent'>sent</span> <span class='key failed'>failed</span> "
        + "<span id='chart-span'>per minute, the last hour</span> "
        + "(<span id='chart-max'></span>)</figcaption></figure>"
        + "</section>"
        + "<section id='providers'><h2>Providers</h2><p class='note' id='circuit-source'></p>"
        + "<table><thead><tr><th>Provider</th><th>Circuit</th><th>Failures</th>"
        + "<th>Until</th><th>Attempts (hour)</th><th>Succeeded</th>"
        + "<th title='How long a call took, half of them at most (p50), 99 of 100 (p99)'>"
        + "Latency p50</th><th>p99</th><th>Paused</th><th></th>"
        + "</tr></thead><tbody></tbody></table>"
        + "<p id='pause-result' class='note'></p></section>"
        + "<section id='dead'><h2>Dead letters <span id='dead-total'></span></h2>"
        + "<p><button type='button' id='redrive-all'>Redrive all…</button> "
        + "<span id='redrive-confirm' hidden><span id='redrive-count'></span> "
        + "<button type='button' id='redrive-all-confirm'>Confirm</button> "
        + "<button type='button' id='redrive-all-cancel'>Cancel</button></span> "
        + "<span id='redrive-result' class='note'></span></p>"
        + _redrive_filter()
        + "<table><thead><tr><th>Email id</th><th>Failed at</th><th>Attempts</th>"
        + "<th>Provider</th><th>Error</th><th></th></tr></thead><tbody></tbody></table>"
        + "<p class='empty'>No dead letters.</p></section>"
        + _emails()
        + "<section id='suppressions'><h2>Suppressions</h2>"
        + "<form id='suppression-form'><label>Address "
        + "<input type='text' name='address' id='suppression-address' autocomplete='off' "
        + "required></label> <button type='submit' data-action='search'>Search</button> "
        + "<button type='button' id='suppression-add'>Add</button> "
        + "<button type='button' id='suppression-remove'>Remove</button></form>"
        + "<p id='suppression-result' class='note'></p>"
        + "<table id='suppression-entries'><thead><tr><th>Address</th><th>Scope</th>"
        + "<th>Reason</th><th>Since</th><th>Expires</th></tr></thead><tbody></tbody></table>"
        + "</section>"
        + "<section id='webhooks'><h2>Webhook endpoints</h2>"
        + "<p id='webhook-result' class='note'></p>"
        + "<table><thead><tr><th>Endpoint</th><th>State</th><th>Last attempts</th><th></th>"
        + "</tr></thead><tbody></tbody></table>"
        + "<p class='empty'>No webhook endpoints.</p></section>"
        + "</main>"
    )
    return shell("Postroom dashboard", body, csrf)


def _redrive_filter() -> str:
    """Redrive the dead letters of one provider or error class, after a dry-run count."""
    errors = "".join(f"<option>{failure}</option>" for failure in Failure)
    return (
        "<form id='redrive-filter'><label>Provider <input type='text' id='redrive-provider' "
        "list='redrive-providers' autocomplete='off' class='short'></label> "
        "<datalist id='redrive-providers'></datalist>"
        "<label>Error <select id='redrive-error'>"
        f"<option value=''>any</option>{errors}</select></label> "
        "<button type='submit'>Redrive matching…</button> "
        "<span id='redrive-match-confirm' hidden><span id='redrive-match-count'></span> "
        "<button type='button' id='redrive-match-go'>Confirm redrive</button> "
        "<button type='button' id='redrive-match-cancel'>Cancel</button></span></form>"
    )


def _emails() -> str:
    """The search form, the list, and the detail of the email clicked (filled by the script)."""
    states = "".join(f"<option>{state}</option>" for state in State)
    return (
        "<section id='emails'><h2>Emails</h2>"
        "<form id='email-form'><label>State <select name='state' id='email-state'>"
        f"<option value=''>any</option>{states}</select></label> "
        "<label>Tag <input type='text' name='tag' id='email-tag' autocomplete='off' "
        "class='short'></label> "
        "<label>Recipient <input type='text' name='to' id='email-to' autocomplete='off'></label> "
        "<label>From <input type='datetime-local' name='after' id='email-after' class='short'>"
        "</label> <label>to <input type='datetime-local' name='before' id='email-before' "
        "class='short'></label> <button type='submit'>Find emails</button></form>"
        "<form id='lookup-form'><label>Email id <input type='text' id='lookup-id' "
        "autocomplete='off' spellcheck='false' class='mono' "
        "placeholder='019a2237-5c1e-7b3a-9d2f-6a1b2c3d4e5f'></label> "
        "<button type='submit'>Open</button> <span id='lookup-result' class='note'></span></form>"
        "<p id='email-result' class='note'></p>"
        "<table id='email-list'><thead><tr><th>Email id</th><th>Status</th><th>Created</th>"
        "<th>Provider</th></tr></thead><tbody></tbody></table>"
        "<p><button type='button' id='email-more' hidden>More</button></p>"
        "<div id='email-detail' hidden><h3>Email <span id='detail-id' class='mono'></span> "
        "<span id='detail-status'></span> <button type='button' id='detail-close'>Close</button>"
        "</h3><p class='note' id='detail-times'></p>"
        "<h4>Recipients</h4><table id='detail-recipients'><thead><tr><th>Address</th>"
        "<th>State</th><th>Events</th></tr></thead><tbody></tbody></table>"
        "<h4>History</h4><table id='detail-events'><thead><tr><th>At</th><th>Status</th>"
        "<th>Provider</th><th>Outcome</th><th>Code</th></tr></thead><tbody></tbody></table>"
        "</div></section>"
    )


def login_page(csrf: str, refused: bool) -> str:
    note = "<p class='error' id='refused'>That key was not accepted.</p>" if refused else ""
    body = (
        "<main class='login'><h1>Postroom dashboard</h1>"
        "<p>The dashboard is for operators: paste an API key with the <code>admin</code> "
        "scope.</p>"
        f"{note}<form method='post' action='/dashboard/login'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
        "<label>API key <input type='password' name='key' autocomplete='off' required "
        "autofocus></label> <button type='submit'>Log in</button></form></main>"
    )
    return shell("Log in: Postroom dashboard", body, csrf)
