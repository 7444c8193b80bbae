"""Tenant routing rules, evaluated in order: the first rule whose conditions all hold applies."""

import re
from dataclasses import dataclass, field

from .text import fold


@dataclass(frozen=True)
class RouteRule:
    name: str
    keywords: tuple[str, ...] = ()  # folded; any one of them
    pattern: re.Pattern[str] | None = None  # on the original text
    channel_ids: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    team_id: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    priority_boost: int = 0
    auto_ignore: bool = False

    @classmethod
    def build(cls, *, name: str, keywords: str = "", regex: str = "", channel_ids: tuple[int, ...] = (),
              categories: tuple[str, ...] = (), languages: tuple[str, ...] = (), team_id: int | None = None,
              tags: tuple[str, ...] = (), priority_boost: int = 0, auto_ignore: bool = False) -> "RouteRule":
        words = tuple(fold(w.strip()) for w in keywords.split(",") if w.strip())
        return cls(name=name, keywords=words, pattern=re.compile(regex, re.IGNORECASE) if regex else None,
                   channel_ids=tuple(channel_ids), categories=tuple(categories), languages=tuple(languages),
                   team_id=team_id, tags=tuple(tags), priority_boost=priority_boost, auto_ignore=auto_ignore)


def _has_keyword(folded: str, keyword: str) -> bool:
    start = folded.find(keyword)
    while start != -1:
        end = start + len(keyword)
        if (start == 0 or not folded[start - 1].isalnum()) and (end == len(folded) or not folded[end].isalnum()):
            return True
        start = folded.find(keyword, start + 1)
    return False


def route(rules: tuple[RouteRule, ...], *, folded: str, text: str, channel_id: int | None, category: str,
          language: str) -> RouteRule | None:
    for rule in rules:
        if rule.keywords and not any(_has_keyword(folded, k) for k in rule.keywords):
            continue
        if rule.pattern is not None and rule.pattern.search(text) is None:
            continue
        if rule.channel_ids and channel_id not in rule.channel_ids:
            continue
        if rule.categories and category not in rule.categories:
            continue
        if rule.languages and language not in rule.languages:
            continue
        return rule
    return None
