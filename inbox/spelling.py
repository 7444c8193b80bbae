"""Spell check for the composer, in pt-BR and English (pyspellchecker's packaged dictionaries).

What agents write on purpose is left alone: @handles, #hashtags, URLs, e-mails, numbers and
protocol numbers, canned variables ({{case.protocol}}), and the brand's own name.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from spellchecker import SpellChecker

# Chat shorthand agents use knowingly in pt-BR social care; flagging it would be noise.
_ACCEPTED = {"pt": {"vc", "vcs", "pra", "pro", "tá", "tô", "dm", "ok", "online", "app", "wi-fi", "wifi", "sac"},
             "en": {"dm", "ok", "app", "wifi", "online"}}
_SKIP = re.compile(r"\{\{.*?\}\}|https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+|[@#]\w+|\S*\d\S*")
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")


@dataclass(frozen=True)
class Misspelling:
    word: str
    start: int
    end: int
    suggestions: list[str]


@lru_cache(maxsize=2)
def _checker(language: str) -> SpellChecker:
    # Loading a dictionary takes ~0.4 s and a few MB: once per process and language.
    return SpellChecker(language=language, distance=1)


def spelling_check(text: str, *, language: str, extra_words: frozenset[str] = frozenset()) -> list[Misspelling]:
    language = "en" if language == "en" else "pt"
    checker = _checker(language)
    masked = _SKIP.sub(lambda m: " " * len(m.group(0)), text)
    found = []
    words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(masked)]
    known_extra = {w.lower() for w in extra_words} | _ACCEPTED[language]
    unknown = checker.unknown([w.lower() for w, _, _ in words if w.lower() not in known_extra])
    for word, start, end in words:
        if word.lower() in unknown and not word.isupper():  # acronyms (PIX, CPF) are not typos
            suggestions = sorted(checker.candidates(word.lower()) or [], key=lambda c: -checker.word_usage_frequency(c))
            found.append(Misspelling(word=word, start=start, end=end, suggestions=suggestions[:4]))
    return found
