"""The full address parser behind the domain's fast path, built on email-validator."""

import email_validator

from postroom.domain.address import AddressError, ParsedAddress


def parse_with_email_validator(text: str) -> ParsedAddress:
    """Parse `addr-spec` or `Name <addr-spec>` under the service's policy (no DNS look-ups)."""
    if text != text.strip():
        raise AddressError("surrounding whitespace is not allowed")
    try:
        result = email_validator.validate_email(
            text,
            allow_smtputf8=True,
            allow_quoted_local=True,
            allow_domain_literal=False,
            allow_display_name=True,
            allow_empty_local=False,
            check_deliverability=False,
        )
    except email_validator.EmailNotValidError as error:
        raise AddressError(str(error)) from None
    return ParsedAddress(result.normalized, result.display_name or "")
