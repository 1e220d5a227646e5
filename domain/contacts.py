"""A reporter's (or a staff member's) e-mail address and phone number: checked and normalised.

E-mail: `email-validator` (syntax, and a domain that can exist on the internet), never a DNS
lookup here. Phone: `phonenumbers`, national numbers read as Indonesian (`0812…`), stored in
E.164 (`+62812…`), and only for the country calling codes an administrator allows
(PHONE_COUNTRY_CODES, Indonesia's 62 alone by default): no SMS to a premium-rate number abroad.
Nothing is sent to an address that has not passed these checks (activities/notifications.py
checks again before sending, for rows stored before them).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator

from domain.text import TextRefused, clean_text

DEFAULT_REGION = "ID"  # how a number without a country code is read
INDONESIA = 62
# A person's own line; never a premium-rate, shared-cost or other service number.
PERSONAL_LINES = frozenset({
    phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE, phonenumbers.PhoneNumberType.VOIP,
})


class ContactRefused(ValueError):
    """A contact we will not use; the message says why, for the person who typed it."""


def normalise_email(raw: str) -> str:
    """The address as we store and use it (domain lower-cased), or ContactRefused."""
    try:
        value = clean_text(raw).strip()
        return validate_email(value, check_deliverability=False).normalized
    except (EmailNotValidError, TextRefused) as error:
        raise ContactRefused(f"alamat email tidak valid: {error}") from error


def normalise_phone(raw: str, allowed_country_codes: Collection[int] = (INDONESIA,)) -> str:
    """The number in E.164 (+62812…), or ContactRefused when it is no valid number of an allowed
    country."""
    try:
        number = phonenumbers.parse(clean_text(raw).strip(), DEFAULT_REGION)
    except (phonenumbers.NumberParseException, TextRefused) as error:
        raise ContactRefused(f"nomor telepon tidak dapat dibaca: {error}") from error
    if number.country_code not in allowed_country_codes:
        allowed = ", ".join(f"+{code}" for code in sorted(allowed_country_codes))
        raise ContactRefused(f"nomor telepon +{number.country_code} tidak diterima (hanya {allowed})")
    if not phonenumbers.is_valid_number(number):
        raise ContactRefused("nomor telepon tidak valid")
    if phonenumbers.number_type(number) not in PERSONAL_LINES:
        raise ContactRefused("nomor telepon layanan (premium, bebas pulsa, ...) tidak diterima")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# For request bodies: an e-mail field that is checked and normalised where it is parsed (422).
Email = Annotated[str, AfterValidator(normalise_email)]


def usable_email(value: str | None) -> str | None:
    """The address if it passes the check (a stored one, before sending), else None."""
    if not value:
        return None
    try:
        return normalise_email(value)
    except ContactRefused:
        return None


def usable_phone(value: str | None, allowed_country_codes: Collection[int] = (INDONESIA,)) -> str | None:
    """The number in E.164 if it passes the check (a stored one, before sending), else None."""
    if not value:
        return None
    try:
        return normalise_phone(value, allowed_country_codes)
    except ContactRefused:
        return None
