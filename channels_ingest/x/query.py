"""The X search query for a channel's search terms, in X's query language
(https://docs.x.com/x-api/posts/search/integrate/build-a-query).

A tenant admin types the brand's terms as words and "quoted phrases" ("acme fibra" #AcmeFibra acmetelecom). What X
would read as query syntax is never passed through: a parenthesis or a stray quote makes X refuse the whole query,
a leading "-" negates, "OR" is an operator, "word:" names an operator. So every term is searched as written: a
plain word, #hashtag, @mention or $cashtag as it is, anything else as an exact phrase (X's keyword rules: a term
with punctuation, such as acme-tv, matches as written only when quoted). X takes queries of at most 512 characters
on pay-per-use access: longer terms are refused when they are saved, with the reason.
"""

import re

QUERY_MAX_CHARS = 512
_TERM = re.compile(r'"([^"]*)"?|(\S+)')  # a "phrase" (an unclosed one runs to the end), or a word
_PLAIN = re.compile(r"[#@$]?\w+")  # acme, #AcmeFibra, @acme, $ACME
_OPERATOR_WORDS = {"OR", "AND"}
_SYNTAX = str.maketrans({'"': " ", "(": " ", ")": " ", "\\": " "})  # a backslash could escape the closing quote


def search_terms_parse(text: str) -> list[str]:
    """The terms in `text`, in order, each once, cleaned of query syntax (quotes, parentheses, a leading "-", the
    operators OR and AND typed between terms)."""
    terms: list[str] = []
    for phrase, word in _TERM.findall(text or ""):
        if word.upper() in _OPERATOR_WORDS:
            continue  # "a OR b" typed: any of the terms matches anyway (a quoted "or" is searched as a word)
        term = " ".join((phrase or word).translate(_SYNTAX).split()).lstrip("-").strip()
        if term and term.lower() not in (t.lower() for t in terms):
            terms.append(term)
    return terms


def search_terms_text(terms: list[str]) -> str:
    """How the terms are stored and shown: as the query has them (plain words as they are, the rest in quotes), so
    that reading them back gives the same terms."""
    return " ".join(_query_term(term) for term in terms)


def _query_term(term: str) -> str:
    return term if _PLAIN.fullmatch(term) and term.upper() not in _OPERATOR_WORDS else f'"{term}"'


def search_query(text: str, handle: str) -> str:
    """The query for the stored terms: any of them, no retweets, not the brand's own posts. Empty without terms."""
    terms = search_terms_parse(text)
    if not terms:
        return ""
    handle = handle.lstrip("@")
    # Our own posts and retweets are not customers talking about us.
    return f"({' OR '.join(_query_term(t) for t in terms)}) -is:retweet" + (f" -from:{handle}" if handle else "")
