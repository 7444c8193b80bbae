"""Text normalisation shared by every step: folding and tokens, done with C-speed str methods."""

import re
import unicodedata

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def fold(text: str) -> str:
    """Lower case ASCII without accents: 'Não' and 'nao', 'reclamação' and 'reclamacao' match alike.

    Anything with no ASCII base (emoji, CJK, curly quotes) is dropped: tokens are [a-z0-9] only, so
    "don’t" becomes "dont", which the lexicons list too. Only tokens and routing keywords read this.
    """
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode("ascii")


def tokens(folded: str) -> list[str]:
    return TOKEN.findall(folded)
