"""The inbox's HTML pages. Every value from an email is escaped; the HTML part itself is only
ever served by its own route, into a sandboxed frame (routes.py)."""

from html import escape
from urllib.parse import quote

from postroom.inbox.messages import Caught, Summary

# The pages' own policy: only our script, styles and frames; nothing from anywhere else.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def shell(title: str, body: str, *, live: bool = False) -> str:
    attributes = " data-live='/inbox/api/messages'" if live else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta name='referrer' content='same-origin'>"
        f"<title>{escape(title)}</title>"
        "<link rel='stylesheet' href='/inbox/static/inbox.css'>"
        "<script src='/inbox/static/inbox.js' defer></script>"
        f"</head><body{attributes}>{body}</body></html>"
    )


def _bar(csrf: str, logged_in: bool, *, delete: bool) -> str:
    forms = ""
    if delete:
        forms += (
            "<form method='post' action='/inbox/delete' class='inline' id='delete-all'>"
            f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
            "<button type='submit'>Delete all</button></form>"
        )
    if logged_in:
        forms += (
            "<form method='post' action='/inbox/logout' class='inline'>"
            f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
            "<button type='submit'>Log out</button></form>"
        )
    return f"<header><a href='/inbox' class='brand'>Postroom inbox</a>{forms}</header>"


def list_page(summaries: list[Summary], total: int, csrf: str, logged_in: bool) -> str:
    rows = "".join(_row(s) for s in summaries)
    shown = f"{total} email{'s' if total != 1 else ''}"
    body = (
        _bar(csrf, logged_in, delete=True)
        + f"<main><p id='count'>{shown}</p>"
        + "<table id='messages'><thead><tr><th>From</th><th>To</th><th>Subject</th>"
        + "<th>Time</th><th>Size</th><th>Attachments</th></tr></thead>"
        + f"<tbody>{rows}</tbody></table>"
        + "<p class='empty'>Emails the outbox catches appear here as they arrive.</p></main>"
    )
    return shell("Postroom inbox", body, live=True)


def _row(summary: Summary) -> str:
    link = f"/inbox/{quote(summary.id)}"
    return (
        f"<tr data-id='{escape(summary.id)}'><td>{escape(summary.sender)}</td>"
        f"<td>{escape(', '.join(summary.to))}</td>"
        f"<td><a href='{link}'>{escape(summary.subject) or '(no subject)'}</a></td>"
        f"<td><time>{escape(summary.date)}</time></td><td>{human_size(summary.size)}</td>"
        f"<td>{len(summary.attachments)}</td></tr>"
    )


def human_size(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


def email_page(caught: Caught, csrf: str, logged_in: bool, remote_images: bool) -> str:
    summary = caught.summary
    base = f"/inbox/{quote(summary.id)}"
    body = (
        _bar(csrf, logged_in, delete=False)
        + "<main><p><a href='/inbox'>&larr; All emails</a></p>"
        + f"<h1 id='subject'>{escape(summary.subject) or '(no subject)'}</h1>"
        + _meta(caught)
        + _html_section(caught, base, remote_images)
        + _text_section(caught)
        + _attachments_section(caught, base)
        + _headers_section(caught)
        + f"<p><a id='raw' href='{base}/raw' download>Download the raw .eml</a></p></main>"
    )
    return shell(summary.subject or "(no subject)", body)


def _meta(caught: Caught) -> str:
    summary = caught.summary
    bcc = caught.envelope.get("bcc")
    rows = [
        ("From", summary.sender),
        ("To", ", ".join(summary.to)),
        ("Cc", ", ".join(summary.cc)),
        ("Bcc (envelope)", ", ".join(str(b) for b in bcc) if isinstance(bcc, list) else ""),
        ("Date", summary.date),
        ("Size", human_size(summary.size)),
        ("Id", summary.id),
    ]
    cells = "".join(
        f"<tr><th>{name}</th><td>{escape(value)}</td></tr>" for name, value in rows if value
    )
    return f"<table class='meta'>{cells}</table>"


def _html_section(caught: Caught, base: str, remote_images: bool) -> str:
    if caught.html is None:
        return "<section id='html'><h2>HTML</h2><p>This email has no HTML part.</p></section>"
    if remote_images:
        source = f"{base}/html?images=remote"
        toggle = (
            f"<a id='images' href='{base}'>Block remote images</a> "
            "<span class='note'>Remote images over https: are loaded now: the sender can "
            "see that and when this email was opened.</span>"
        )
    else:
        source = f"{base}/html"
        toggle = (
            f"<a id='images' href='{base}?images=remote'>Load remote images</a> "
            "<span class='note'>Remote images are blocked: only images inside the email "
            "show. Loading them allows https: images from anywhere.</span>"
        )
    # sandbox="" with no allow-*: no scripts, no forms, no popups, an origin of its own.
    return (
        f"<section id='html'><h2>HTML</h2><p>{toggle}</p>"
        f"<iframe id='html-frame' sandbox='' src='{source}' title='The HTML part'></iframe>"
        "</section>"
    )


def _text_section(caught: Caught) -> str:
    if caught.text is None:
        return "<section id='text'><h2>Text</h2><p>This email has no text part.</p></section>"
    return f"<section id='text'><h2>Text</h2><pre>{escape(caught.text)}</pre></section>"


def _attachments_section(caught: Caught, base: str) -> str:
    attachments = caught.summary.attachments
    if not attachments:
        return ""
    items = "".join(
        f"<li><a href='{base}/attachments/{a.index}' download>{escape(a.filename)}</a> "
        f"<span class='note'>{escape(a.content_type)}, {human_size(a.size)}</span></li>"
        for a in attachments
    )
    return f"<section id='attachments'><h2>Attachments</h2><ul>{items}</ul></section>"


def _headers_section(caught: Caught) -> str:
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in caught.headers
    )
    return f"<section id='headers'><h2>Headers</h2><table>{rows}</table></section>"


def login_page(csrf: str, refused: bool) -> str:
    note = "<p class='error' id='refused'>That key was not accepted.</p>" if refused else ""
    body = (
        "<main class='login'><h1>Postroom inbox</h1>"
        "<p>The inbox shows the emails the outbox caught, content and all: paste an API key "
        "that may see them.</p>"
        f"{note}<form method='post' action='/inbox/login'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
        "<label>API key <input type='password' name='key' autocomplete='off' required "
        "autofocus></label> <button type='submit'>Log in</button></form></main>"
    )
    return shell("Log in: Postroom inbox", body)
