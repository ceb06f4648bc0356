"""Phone numbers as people type them, kept in E.164."""

import phonenumbers

TEXTABLE = {phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


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


def mobile_phone(raw: str, region: str = "US") -> str:
    """A number the clinic can text: in the clinic's country and able to take SMS.

    Booking texts a number at once, so numbers abroad or on landlines are refused: nobody can
    make the clinic text the world.
    """
    phone = normalise_phone(raw, region)
    number = phonenumbers.parse(phone)
    if phonenumbers.region_code_for_number(number) != region:
        raise ValueError(f"Use a mobile number from the clinic's country ({region}).")
    if phonenumbers.number_type(number) not in TEXTABLE:
        raise ValueError("Use a mobile number: we text you about your visit.")
    return phone


def masked(phone: str) -> str:
    """A number safe for logs: only the last two digits."""
    return f"{phone[:2]}…{phone[-2:]}" if phone else ""
