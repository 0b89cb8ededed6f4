"""AUTH PLAIN and LOGIN (RFC 4954): any user name, a Postroom API key as the password.

The key is checked by the same Authenticator as the API's Bearer header, so a revoked key stops
working over SMTP within the same two seconds. Credentials travel in base64, which is no
protection: AUTH is refused on a connection that is neither encrypted nor from this machine.
"""

import binascii
import ipaddress
from base64 import b64decode
from collections.abc import Awaitable, Callable

from aiosmtpd.smtp import MISSING, SMTP, Session

from postroom.ports.keys import ApiKey

Authenticate = Callable[[str | None], Awaitable[ApiKey | None]]

OK = "235 2.7.0 Authentication successful"
# RFC 4954 section 6: 535 5.7.8 for credentials that are not accepted, 538 5.7.11 for a
# mechanism that needs an encrypted connection, 454 4.7.0 for a temporary failure.
INVALID = "535 5.7.8 Authentication credentials invalid"
NEEDS_TLS = "538 5.7.11 Encryption required: use STARTTLS (or the TLS port) before AUTH"
UNAVAILABLE = "454 4.7.0 Temporary authentication failure; try again later"


def encrypted(server: SMTP, session: Session) -> bool:
    """Whether this connection is TLS: after STARTTLS, or on the implicit-TLS port."""
    if session.ssl is not None:
        return True
    transport = server.transport
    return transport is not None and transport.get_extra_info("sslcontext") is not None


def loopback(session: Session) -> bool:
    """Whether the client is on this machine (IPv4 127/8, ::1, or 127/8 mapped into IPv6)."""
    peer = session.peer
    host = peer[0] if isinstance(peer, tuple) else peer
    try:
        address = ipaddress.ip_address(str(host).partition("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def auth_allowed(server: SMTP, session: Session) -> bool:
    """AUTH is offered on TLS connections, and on plain ones only from loopback (development)."""
    return encrypted(server, session) or loopback(session)


async def password(server: SMTP, args: list[str]) -> bytes | None:
    """The password of an AUTH PLAIN or LOGIN exchange (asking for what the command line did
    not carry); None once a 501 has been answered (aborted, not base64, not three fields)."""
    mechanism = args[0].upper()
    if mechanism == "LOGIN":
        if len(args) == 1 and await server.challenge_auth(server.AuthLoginUsernameChallenge) is (
            MISSING
        ):
            return None
        answer = await server.challenge_auth(server.AuthLoginPasswordChallenge)
        return None if answer is MISSING else bytes(answer)
    blob = await _initial(server, args)
    if blob is None:
        return None
    # authzid NUL authcid NUL passwd (RFC 4616); the user name is anything.
    fields = blob.split(b"\x00")
    if len(fields) != 3:
        await server.push("501 5.5.2 Can't split auth value")
        return None
    return fields[2]


async def _initial(server: SMTP, args: list[str]) -> bytes | None:
    if len(args) == 1:
        answer = await server.challenge_auth("")
        return None if answer is MISSING else bytes(answer)
    try:
        return b64decode(args[1].encode(), validate=True)
    except (binascii.Error, ValueError):
        await server.push("501 5.5.2 Can't decode base64")
        return None


def bearer(secret: bytes) -> str | None:
    """The key as the API's Authorization header carries it; None when it is not text."""
    try:
        token = secret.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    return f"Bearer {token}" if token else None
