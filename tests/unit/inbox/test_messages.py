"""Reading the outbox folder back: the parts, headers and attachments the inbox shows."""

from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from postroom.inbox.messages import OutboxFolder, safe_filename

ID = "01a23211-661c-7306-a17a-7e2a02862775"
OTHER = "01a23211-661c-7306-a17a-7e2a02862776"


def write(folder: Path, email_id: str, message: EmailMessage, utf8: bool = False) -> None:
    folder.mkdir(exist_ok=True)
    chosen = policy.SMTPUTF8 if utf8 else policy.SMTP
    (folder / f"{email_id}.eml").write_bytes(message.as_bytes(policy=chosen))


def simple(subject: str = "Hi") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Shop <shop@example.com>"
    message["To"] = "Ann <ann@example.org>, bo@example.org"
    message["Subject"] = subject
    message["Date"] = "Tue, 01 Dec 2026 10:00:00 +0100"
    message.set_content("Hello")
    return message


def test_raw_utf8_headers_read_as_text(tmp_path: Path) -> None:
    """An SMTPUTF8 message's raw UTF-8 headers come back as the characters they are."""
    message = simple("Grüße aus Köln")
    message.replace_header("To", "Jürgen <jürgen@bücher.example>")
    write(tmp_path, ID, message, utf8=True)
    [summary], total = OutboxFolder(tmp_path).summaries()
    assert total == 1
    assert summary.subject == "Grüße aus Köln"
    assert summary.to == ["Jürgen <jürgen@bücher.example>"]
    assert summary.date == "2026-12-01T09:00:00Z"


def test_inline_images_become_data_urls(tmp_path: Path) -> None:
    """A cid: image is shown through the frame's data: policy; it is listed as well."""
    message = simple()
    message.add_alternative("<p><img src='cid:logo@shop'></p>", subtype="html")
    html = message.get_payload()[1]
    html.add_related(b"\x89PNG-bytes", "image", "png", cid="<logo@shop>")
    write(tmp_path, ID, message)
    caught = OutboxFolder(tmp_path).one(ID)
    assert caught is not None
    assert caught.html is not None
    assert "src='data:image/png;base64,iVBORy1ieXRlcw=='" in caught.html
    assert [(a.content_type, a.content_id) for a in caught.summary.attachments] == [
        ("image/png", "logo@shop")
    ]


def test_an_attached_email_is_one_attachment(tmp_path: Path) -> None:
    """message/rfc822 is one file to download, not its parts spilled into the list."""
    message = simple()
    message.add_attachment(simple("Forwarded"), filename="forwarded.eml")
    write(tmp_path, ID, message)
    folder = OutboxFolder(tmp_path)
    caught = folder.one(ID)
    assert caught is not None
    assert [a.content_type for a in caught.summary.attachments] == ["message/rfc822"]
    download = folder.attachment(ID, 0)
    assert download is not None
    assert b"Subject: Forwarded" in download.data


def test_list_is_newest_first_and_follows_the_folder(tmp_path: Path) -> None:
    """Newest file first; a changed file is read again; a removed one leaves the list."""
    import os

    write(tmp_path, ID, simple("Old"))
    write(tmp_path, OTHER, simple("New"))
    os.utime(tmp_path / f"{ID}.eml", ns=(1, 1_000_000_000))
    folder = OutboxFolder(tmp_path)
    assert [s.subject for s in folder.summaries()[0]] == ["New", "Old"]
    write(tmp_path, OTHER, simple("Newer"))
    assert [s.subject for s in folder.summaries()[0]] == ["Newer", "Old"]
    (tmp_path / f"{OTHER}.eml").unlink()
    assert [s.subject for s in folder.summaries()[0]] == ["Old"]


def test_only_ids_name_files(tmp_path: Path) -> None:
    """Anything but an id is no email, and delete all removes only the outbox's own files."""
    write(tmp_path, ID, simple())
    (tmp_path / f"{ID}.json").write_text("{}")
    (tmp_path / "notes.eml").write_text("mine")
    folder = OutboxFolder(tmp_path)
    assert folder.one("../notes") is None
    assert folder.raw("notes") is None
    assert folder.delete_all() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.eml"]


def test_a_missing_folder_is_an_empty_inbox(tmp_path: Path) -> None:
    """Before the first email the outbox has not made its folder yet."""
    assert OutboxFolder(tmp_path / "outbox").summaries() == ([], 0)


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("report.pdf", "application/pdf", "report.pdf"),
        ("../../etc/passwd", "text/plain", "etc_passwd"),
        (".bashrc", "text/plain", "bashrc"),
        ('a"b<c>\r\nd.txt', "text/plain", "a_b_c_d.txt"),
        (None, "image/png", "attachment-3.png"),
        ("...", "application/x-unknown-thing", "attachment-3.bin"),
        ("é" * 200, "text/plain", "é" * 120),
    ],
)
def test_safe_filenames(name: str | None, content_type: str, expected: str) -> None:
    """No folders, no control or special characters, no leading dot, bounded length."""
    assert safe_filename(name, content_type, 2) == expected
