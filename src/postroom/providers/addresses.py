"""The one address formatter: a display name and an address in each form a provider takes.

Every form puts the domain in IDNA 2008 A-labels (what the validator checked it against): valid
in every header, envelope and API, and the only form an SMTP server without SMTPUTF8, SES,
SendGrid and Postmark take. The local part goes as validated (quoted if it must be); whether a
provider takes a non-ASCII one is the provider's check (`non_ascii_local_part`).
"""

import re
from collections.abc import Iterable
from email.headerregistry import Address as HeaderAddress

import idna

from postroom.domain.errors import PermanentError
from postroom.domain.message import Address

_QUOTED_PAIR = re.compile(r"\\(.)")
# RFC 5322 atext plus space: a display name made only of these (and of non-ASCII letters, which
# providers encode themselves) needs no quotes; anything else (the specials ()<>[]:;@\,." and
# controls) makes it a quoted string.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ \x80-\U0010ffff]*")


def ascii_domain(domain: str) -> str:
    """The domain as A-labels; PermanentError for one with no IDNA form (only a domain that
    skipped validation)."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise PermanentError("invalid_address", "a domain has no IDNA form") from None


def wire_address(email: str) -> str:
    """`local@domain` as it goes into an envelope or a recipient list: domain in A-labels."""
    local, _, domain = email.rpartition("@")
    return email if domain.isascii() else f"{local}@{ascii_domain(domain)}"


def display_name(name: str) -> str:
    """The name as a phrase: bare when it is atext and spaces, else a quoted string."""
    if _PLAIN_NAME.fullmatch(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox(address: Address) -> str:
    """`Name <local@domain>`, or the bare address without a name; the name as raw UTF-8
    (Mailgun and Postmark encode it for the message they write)."""
    email = wire_address(address.email)
    return f"{display_name(address.name)} <{email}>" if address.name else email


def mailbox_list(addresses: Iterable[Address]) -> str:
    """Mailboxes joined by ", ", as one header-style field."""
    return ", ".join(mailbox(a) for a in addresses)


def address_object(address: Address) -> dict[str, str]:
    """`{"email", "name"?}` for a JSON API; `name` left out, not empty, when there is none.
    The name is not quoted: a JSON field needs no RFC 5322 phrase."""
    obj = {"email": wire_address(address.email)}
    if address.name:
        obj["name"] = address.name
    return obj


def header_address(address: Address) -> HeaderAddress:
    """The address for the email package, which writes the phrase and encoded words itself."""
    local, _, domain = address.email.rpartition("@")
    # HeaderAddress quotes the local part when it needs quoting; given the quoted form it would
    # quote the quotes ("\"john doe\""@...).
    if len(local) >= 2 and local[0] == local[-1] == '"':
        local = _QUOTED_PAIR.sub(r"\1", local[1:-1])
    return HeaderAddress(display_name=address.name, username=local, domain=ascii_domain(domain))


def non_ascii_local_part(addresses: Iterable[Address]) -> bool:
    """Whether any address needs SMTPUTF8 (RFC 6531): a non-ASCII local part, which no A-label
    conversion can help."""
    return any(not a.email.rpartition("@")[0].isascii() for a in addresses)
