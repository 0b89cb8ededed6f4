"""The listener's own reading of MAIL FROM and RCPT TO paths is aiosmtpd's, only faster."""

from typing import Any

from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.smtp.server import SubmissionProtocol

# _getaddr reads nothing of the connection but the local-part limit (aiosmtpd's default, 0).
_PROTOCOL = SubmissionProtocol.__new__(SubmissionProtocol)


def _read(reader: Any, arg: str) -> object:
    try:
        return reader(_PROTOCOL, arg)
    except Exception as error:
        return type(error)


_PATHS = st.one_of(
    st.text('<>@.a-Z0 \t=()"é', max_size=30),
    st.builds(
        lambda local, domain, rest: f"<{local}@{domain}>{rest}",
        st.from_regex(r"[a-z0-9.+_-]{1,12}", fullmatch=True),
        st.from_regex(r"[a-z0-9.-]{1,12}", fullmatch=True),
        st.sampled_from(["", " SIZE=5151", "  BODY=8BITMIME SMTPUTF8", " ", "\t(x)", " (c) A=B"]),
    ),
)


@given(_PATHS)
@settings(max_examples=500, deadline=None)
def test_paths_are_read_as_aiosmtpd_reads_them(arg: str) -> None:
    """(address, parameters) for any argument, as aiosmtpd's own _getaddr gives them."""
    assert _read(SubmissionProtocol._getaddr, arg) == _read(SMTP._getaddr, arg)


def test_the_plain_path_with_parameters() -> None:
    """The usual `<a@b> SIZE=n` gives the address and the parameter text."""
    found = _PROTOCOL._getaddr("<shop@example.com> SIZE=5151")
    assert found == ("shop@example.com", "SIZE=5151")
