"""How long a reply may be on each network, counted the way the network counts.

X counts "weighted" characters (twitter-text configuration v3): after NFC
normalisation, code points in a few Latin/punctuation ranges weigh 1, every
other one 2 (CJK, most emoji), an emoji sequence joined by ZWJ or followed by
modifiers weighs 2 in all, and every URL weighs 23 whatever its length.
"""

import re
import unicodedata
from dataclasses import dataclass

X_MAX_WEIGHTED = 280
X_URL_WEIGHT = 23
# twitter-text v3 ranges of weight 1 (everything else weighs 2).
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_ZWJ, _VS16 = 0x200D, 0xFE0F
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|br|pt|io|co|me|ly)(?:/\S*)?",
                  re.IGNORECASE)

# Per network and visibility: (maximum, unit shown to the agent). Facebook comments and Messenger
# messages are limited to 8,000 and 2,000 characters in the Graph API reference; X DMs to 10,000.
LIMITS: dict[tuple[str, str], int] = {
    ("x", "public"): X_MAX_WEIGHTED,
    ("x", "private"): 10_000,
    ("facebook", "public"): 8_000,
    ("facebook", "private"): 2_000,
    ("instagram", "public"): 2_200,
    ("instagram", "private"): 1_000,
}


def _is_modifier(cp: int) -> bool:
    return cp in (_ZWJ, _VS16) or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F


def x_weighted_length(text: str) -> int:
    text = unicodedata.normalize("NFC", text)
    total, last_end = 0, 0
    pieces: list[str] = []
    for match in _URL.finditer(text):
        pieces.append(text[last_end:match.start()])
        total += X_URL_WEIGHT
        last_end = match.end()
    pieces.append(text[last_end:])
    for piece in pieces:
        joined = False
        for ch in piece:
            cp = ord(ch)
            if _is_modifier(cp):
                # Part of the emoji before it: a ZWJ also glues the next emoji to this one.
                joined = cp == _ZWJ
                continue
            if joined:
                joined = False
                continue
            total += 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else 2
    return total


@dataclass(frozen=True)
class LengthCheck:
    length: int
    limit: int

    @property
    def ok(self) -> bool:
        return self.length <= self.limit


def check_length(text: str, *, platform: str, visibility: str) -> LengthCheck:
    """The simulator speaks X, so its channels follow X's rules."""
    network = "x" if platform in ("x", "simulator") else platform
    limit = LIMITS.get((network, visibility), X_MAX_WEIGHTED)
    length = x_weighted_length(text) if network == "x" and visibility == "public" else len(text)
    return LengthCheck(length=length, limit=limit)
