"""How long a reply may be on each network, counted the way the network counts.

X counts "weighted" characters the way its twitter-text library does (configuration v3: scale 100,
defaultWeight 200, ranges 0-4351, 8192-8205, 8208-8223 and 8242-8247 weigh 100, maxWeightedTweetLength 280,
transformedURLLength 23 — twitter/twitter-text js/src/configs.js): after NFC normalisation a code point in one
of those ranges weighs 1, every other one 2 (CJK, most emoji), an emoji sequence (ZWJ, skin tone, flag, keycap)
weighs 2 in all, and every URL weighs 23 whatever its length. A URL is what twitter-text's extractUrlsWithIndices
finds: with or without http(s)://, on any TLD of the IANA root zone (inbox/x_tlds.py), so `acme.shop` and
`acme.com.br/2via` are URLs; a bare one-label domain on a country code (`acme.br`) is not, unless it has a path
or is a .co/.tv one (twitter-text's invalidShortDomain / validSpecialShortDomain).

This module is the one rule. The case page counts live with the same data: `x_count_rules()` is rendered into
the page and static/js/inbox.js (sacComposerLength) runs the same regular expressions and weights, so the
counter and the server agree (tests/inbox/test_limits.py and tests/e2e/test_composer.py check both on the same
tricky texts). The regular expressions are therefore written in the common subset of Python's `re` and
JavaScript's (flags "iu"): no named groups, no \\s or \\w, no `$` before a possible newline, no
escaped "-" outside a character class.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from .x_tlds import IANA_TLDS

X_MAX_WEIGHTED = 280
X_URL_WEIGHT = 23
X_DEFAULT_WEIGHT = 2
# twitter-text v3 ranges of weight 1 (everything else weighs 2), inclusive.
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))

# Per network and visibility: the maximum length. Facebook comments and Messenger messages are limited to
# 8,000 and 2,000 characters in the Graph API reference; X DMs to 10,000.
LIMITS: dict[tuple[str, str], int] = {
    ("x", "public"): X_MAX_WEIGHTED,
    ("x", "private"): 10_000,
    ("facebook", "public"): 8_000,
    ("facebook", "private"): 2_000,
    ("instagram", "public"): 2_200,
    ("instagram", "private"): 1_000,
}

# ---------------------------------------------------------------- twitter-text's URL grammar, ported
# Character classes (contents only), from twitter-text js/src/regexp/*.js.
_INVALID = r"\uFFFE\uFEFF\uFFFF\u202A-\u202E"
_SPACES = r"\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"
_LATIN = (r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263\u0268\u026F"
          r"\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF")
_CYRILLIC = r"\u0400-\u04FF"

_D = f"[^{_PUNCT}{_SPACES}{_INVALID}]"  # a domain character
# Labels written so that each character has one way to match (twitter-text's `(?:D(?:-|D)*)?D` backtracks
# quadratically on long words); they accept the same strings.
_SUBDOMAIN = rf"(?:{_D}(?:[_\-]*{_D})*\.)"
_DOMAIN_NAME = rf"(?:{_D}(?:-*{_D})*\.)"
# "{tld}" stands for the alternation of IANA_TLDS; it is filled in here and in the page, so the page gets the
# list once rather than inside every expression.
_TLD = r"(?:(?:{tld})(?![0-9a-z@+\-])|xn--[\-0-9a-z]+)"
_CCTLD = r"(?:(?:{cctld})(?![0-9a-z@+\-]))"
_G = rf"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN}]"  # a URL path character
_PARENS = rf"(?:\((?:{_G}+|{_G}*\({_G}+\){_G}*)\))"
_PATH_END = rf"(?:[+\-a-z{_CYRILLIC}0-9=_#/{_LATIN}]|{_PARENS})"
_PATH = rf"(?:{_G}*(?:{_PARENS}{_G}*)*{_PATH_END}|@{_G}+/)"
_QUERY = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_QUERY_END = r"[a-z0-9\-_&=#/]"

# Groups: 1 the character before, 2 the URL, 3 the scheme, 4 the domain, 5 the path, 6 the query.
_URL_SOURCE = (rf"([^A-Za-z0-9@＠$#＃{_INVALID}]|^)"
               rf"((https?://)?({_SUBDOMAIN}*{_DOMAIN_NAME}{_TLD})(?::[0-9]+)?(/{_PATH}*)?(\?{_QUERY}*{_QUERY_END})?)")
_ASCII_DOMAIN_SOURCE = rf"(?:[\-a-z0-9{_LATIN}]+\.)+{_TLD}"
_SHORT_DOMAIN_SOURCE = rf"^{_DOMAIN_NAME}{_CCTLD}$"
_SPECIAL_SHORT_DOMAIN_SOURCE = rf"^{_DOMAIN_NAME}(?:co|tv)(?![0-9a-z@])$"
_NO_SCHEME_BEFORE_SOURCE = r"[\-_./]$"
# What Python's str.strip() removes, as a character class: reply_create strips the text before counting and
# sending, so the page strips the same characters.
_STRIP_CHARS = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())
_STRIP_SOURCE = "^[{0}]+|[{0}]+$".format("".join(f"\\u{ord(ch):04X}" for ch in _STRIP_CHARS))


def _alternation(words: list[str]) -> str:
    # Longest first, so that a TLD that is a prefix of another is tried after it (the lookahead decides anyway).
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


_TLDS = sorted(set(IANA_TLDS))
# twitter-text's short-domain rule is about country codes; the ASCII ones are the two-letter TLDs.
_CCTLDS = [t for t in _TLDS if len(t) == 2 and t.isascii()]


def _fill(source: str) -> str:
    return source.replace("{tld}", _alternation(_TLDS)).replace("{cctld}", _alternation(_CCTLDS))


_URL = re.compile(_fill(_URL_SOURCE), re.IGNORECASE)
_ASCII_DOMAIN = re.compile(_fill(_ASCII_DOMAIN_SOURCE), re.IGNORECASE)
_SHORT_DOMAIN = re.compile(_fill(_SHORT_DOMAIN_SOURCE), re.IGNORECASE)
_SPECIAL_SHORT_DOMAIN = re.compile(_SPECIAL_SHORT_DOMAIN_SOURCE, re.IGNORECASE)
_NO_SCHEME_BEFORE = re.compile(_NO_SCHEME_BEFORE_SOURCE)

_ZWJ, _VS16, _KEYCAP = 0x200D, 0xFE0F, 0x20E3


@functools.cache
def x_count_rules() -> dict[str, Any]:
    """Everything the page's counter needs to count exactly like x_weighted_length (JSON-serialisable)."""
    return {
        "url": _URL_SOURCE, "asciiDomain": _ASCII_DOMAIN_SOURCE, "shortDomain": _SHORT_DOMAIN_SOURCE,
        "specialShortDomain": _SPECIAL_SHORT_DOMAIN_SOURCE, "noSchemeBefore": _NO_SCHEME_BEFORE_SOURCE,
        "strip": _STRIP_SOURCE, "tld": _alternation(_TLDS), "cctld": _alternation(_CCTLDS),
        "urlWeight": X_URL_WEIGHT, "defaultWeight": X_DEFAULT_WEIGHT, "lightRanges": _LIGHT_RANGES,
    }


def x_url_spans(text: str) -> list[tuple[int, int]]:
    """Where the URLs X shortens are in `text` (NFC), as twitter-text's extractUrlsWithIndices finds them."""
    if "." not in text:
        return []
    spans: list[list[int]] = []
    for match in _URL.finditer(text):
        before, _url, scheme, domain, path = match.group(1, 2, 3, 4, 5)
        start, end = match.start(2), match.end(2)
        if scheme:
            spans.append([start, end])
            continue
        if _NO_SCHEME_BEFORE.search(before):
            continue
        # Without a scheme only the ASCII part of a domain is linked, and a bare one-label country-code domain
        # (`acme.br`) only with a path; the last domain takes the path (and query) with it.
        last: list[int] | None = None
        for ascii_domain in _ASCII_DOMAIN.finditer(domain):
            last = [start + ascii_domain.start(), start + ascii_domain.end()]
            found = ascii_domain.group()
            if path or _SPECIAL_SHORT_DOMAIN.match(found) or not _SHORT_DOMAIN.match(found):
                spans.append(last)
        if last is not None and path:
            last[1] = end
    return [(s, e) for s, e in spans]


def _weight(piece: str) -> int:
    total = 0
    joined = False  # the previous code point was a ZWJ: this one is part of the same emoji
    regional_open = False  # an odd regional indicator: the next one completes the flag
    previous = 0
    for ch in piece:
        cp = ord(ch)
        if cp in (_ZWJ, _VS16) or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:
            joined = joined or cp == _ZWJ
            continue
        if cp == _KEYCAP:
            # "1️⃣" is one emoji of weight 2; its digit was counted as 1.
            total += 1 if chr(previous) in "0123456789#*" else 2
            previous = cp
            continue
        previous = cp
        if joined:
            joined = False
            continue
        if 0x1F1E6 <= cp <= 0x1F1FF:
            regional_open = not regional_open
            if not regional_open:
                continue  # the second half of a flag
        else:
            regional_open = False
        total += 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else X_DEFAULT_WEIGHT
    return total


def x_weighted_length(text: str) -> int:
    text = unicodedata.normalize("NFC", text)
    total, last_end = 0, 0
    for start, end in x_url_spans(text):
        total += _weight(text[last_end:start]) + X_URL_WEIGHT
        last_end = end
    return total + _weight(text[last_end:])


def as_sent(text: str) -> str:
    """The text as it is counted and sent: a browser submits a textarea's line breaks as CRLF, the networks
    (and the page's counter) count one character per line break; surrounding whitespace is dropped."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


@dataclass(frozen=True)
class LengthCheck:
    length: int
    limit: int

    @property
    def ok(self) -> bool:
        return self.length <= self.limit


def _network(platform: str) -> str:
    """The simulator speaks X, so its channels follow X's rules."""
    return "x" if platform in ("x", "simulator") else platform


def check_length(text: str, *, platform: str, visibility: str) -> LengthCheck:
    network = _network(platform)
    limit = LIMITS.get((network, visibility), X_MAX_WEIGHTED)
    text = as_sent(text)
    length = x_weighted_length(text) if network == "x" and visibility == "public" else len(text)
    return LengthCheck(length=length, limit=limit)


def composer_limits(platform: str) -> dict[str, Any]:
    """What the case page's live counter needs for a channel: the limit per visibility and, where public
    replies are counted X's way, the counting rules (see the module docstring)."""
    weighted = _network(platform) == "x"
    return {
        "public": check_length("", platform=platform, visibility="public").limit,
        "private": check_length("", platform=platform, visibility="private").limit,
        "weighted": weighted,
        "rules": x_count_rules() if weighted else {"strip": _STRIP_SOURCE},
    }
