"""Address policy: RFC 5321 mailboxes as providers' send APIs accept them.

The policy (docs/design.md, "Address policy"): dot-atom or quoted local part, a domain with at least
one dot, internationalised addresses allowed; no IP literal, no comments, no obsolete syntax, no
surrounding whitespace; local part <= 64 octets, whole address <= 254 octets.

The common case, a plain ASCII dot-atom address, is settled here by one regular expression. Anything
else goes to the full parser the caller injects (email-validator in production), because a full
RFC parse costs tens of microseconds per address and most traffic never needs it.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from postroom.domain.message import Address

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# TLD letters only: numeric TLDs and punycode ("xn--") labels take the full path.
# The local part's length (<= 64) is checked by the lookahead, in the same pass.
_FAST = re.compile(
    rf"(?={_ATEXT}[^@]{{0,63}}@){_ATEXT}+(?:\.{_ATEXT}+)*@((?:{_LABEL}\.)+([A-Za-z]{{2,63}}))"
)

# `Name <addr>` with the name as atoms (UTF-8 allowed, RFC 6532) or as a quoted string without
# escapes. Anything fancier (comments, escapes, obsolete forms) goes to the full parser.
_WORD = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+"
_PHRASE = re.compile(rf"{_WORD}(?: {_WORD})*")
_QUOTED = re.compile(r'"([^"\\\x00-\x1f]*)"')

# Reserved names no provider delivers to (RFC 6761 and friends); the full parser refuses them too.
_SPECIAL_USE = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


class AddressError(ValueError):
    """The text is not an address this service accepts; the message says why, without the text."""


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    email: str
    display_name: str


# The full parser: returns the normalised address and display name, raises AddressError.
FullParser = Callable[[str], ParsedAddress]


def fast_mailbox(text: str) -> str | None:
    """The address if `text` is a plain ASCII dot-atom mailbox the policy accepts, else None.

    None means "not decided here", never "invalid": the caller then asks the full parser.
    """
    match = _FAST.fullmatch(text)
    if match is None or len(text) > 254:
        return None
    domain, tld = match.groups()
    if "--" in domain or tld.lower() in _SPECIAL_USE:
        return None
    return text if domain.islower() else text[: match.start(1)] + domain.lower()


def split_name_addr(text: str) -> tuple[str, str] | None:
    """(display name, addr-spec) of a plain `Name <addr>` or `"Name" <addr>`, else None.

    String operations and two small patterns: one regular expression over the whole text costs
    several times as much, and this runs for most addresses with a name."""
    if not text.endswith(">"):
        return None
    prefix, sep, inner = text[:-1].rpartition("<")
    if not sep or ">" in inner:
        return None
    name = prefix[:-1] if prefix.endswith(" ") else prefix
    if not name:
        return "", inner
    quoted = _QUOTED.fullmatch(name)
    if quoted is not None:
        return quoted.group(1), inner
    return (name, inner) if _PHRASE.fullmatch(name) else None


def quick_address(text: str) -> Address | None:
    """`addr-spec` or `Name <addr-spec>` settled without the full parser, else None (undecided)."""
    # An addr-spec the fast pattern takes ends with its top-level domain's letters, never ">":
    # a named address skips a match that cannot succeed.
    email = fast_mailbox(text) if not text.endswith(">") else None
    if email is not None:
        return Address(email)
    named = split_name_addr(text)
    if named is None:
        return None
    email = fast_mailbox(named[1])
    return None if email is None else Address(email, named[0])


def parse_address(text: str, full: FullParser) -> Address:
    """An address from `addr-spec` or `Name <addr-spec>` text; AddressError when refused."""
    email = fast_mailbox(text)
    if email is not None:
        return Address(email)
    named = split_name_addr(text)
    if named is None:
        parsed = full(text)
        return Address(parsed.email, parsed.display_name)
    email = fast_mailbox(named[1]) or full(named[1]).email
    return Address(email, named[0])
