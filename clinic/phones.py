"""Phone numbers as people type them, kept in E.164."""

import phonenumbers


def normalise_phone(raw: str, region: str = "US") -> str:
    """E.164 for a possible number; raises ValueError with a reason a person can act on."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("Enter a mobile number.")
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValueError("That doesn't look like a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("That phone number doesn't exist; check the digits.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(phone: str) -> str:
    """A number safe for logs: only the last two digits."""
    return f"{phone[:2]}…{phone[-2:]}" if phone else ""
