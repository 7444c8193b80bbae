"""Reading numbers from URLs and forms. `str.isdigit()` accepts "²" and "٣", which `int()` then
refuses or reads unexpectedly; a request must never 500 on that."""

import re

_ASCII_INT = re.compile(r"[0-9]{1,18}")


def parse_int(value: str | None) -> int | None:
    """A non-negative ASCII integer, or None for anything else (empty, signs, other scripts, too long)."""
    if value is None:
        return None
    value = value.strip()
    return int(value) if _ASCII_INT.fullmatch(value) else None


def without_nul(text: str) -> str:
    """PostgreSQL text cannot hold NUL; it carries no meaning in a customer's message either."""
    return text.replace("\x00", "")
