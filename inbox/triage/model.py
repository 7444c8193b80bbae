"""A linear model over token and signal features, applied in pure Python (a dict lookup per feature).

Trained with scikit-learn (inbox/triage/train.py) and stored as plain JSON, so
applying it costs no numpy call per post and a tenant's model is one JSON row.
"""

import math
import re
from dataclasses import dataclass, field
from itertools import repeat
from operator import add
from typing import Any

from .text import TOKEN


@dataclass(frozen=True)
class LinearModel:
    """`classes` for the category head; `rr_*` is the binary requires_response head."""

    version: str = ""
    classes: tuple[str, ...] = ()
    weights: dict[str, tuple[float, ...]] = field(default_factory=dict)
    intercepts: tuple[float, ...] = ()
    rr_weights: dict[str, float] = field(default_factory=dict)
    rr_intercept: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LinearModel":
        return cls(
            version=str(data.get("version", "")),
            classes=tuple(data.get("classes", ())),
            weights={k: tuple(v) for k, v in data.get("weights", {}).items()},
            intercepts=tuple(data.get("intercepts", ())),
            rr_weights=dict(data.get("rr_weights", {})),
            rr_intercept=float(data.get("rr_intercept", 0.0)),
        )

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "classes": list(self.classes),
                "weights": {k: list(v) for k, v in self.weights.items()}, "intercepts": list(self.intercepts),
                "rr_weights": self.rr_weights, "rr_intercept": self.rr_intercept}

    def category(self, features: list[str]) -> tuple[str, float] | None:
        if not self.classes:
            return None
        scores = list(self.intercepts)
        n = len(scores)
        for w in filter(None, map(self.weights.get, features)):
            scores = list(map(add, scores, w))
        best = max(range(n), key=scores.__getitem__)
        top = scores[best]
        total = sum(math.exp(s - top) for s in scores)
        return self.classes[best], 1.0 / total

    def requires_response(self, features: list[str]) -> float | None:
        if not self.rr_weights and not self.rr_intercept:
            return None
        z = self.rr_intercept
        get = self.rr_weights.get
        for f in features:
            z += get(f, 0.0)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def features_for(tokens: list[str], signals: dict[str, float]) -> list[str]:
    """The model's features: unigrams plus the lexicon signals that fired."""
    feats = ["w:" + t for t in set(tokens)]
    feats.extend("s:" + s for s in signals)
    return feats


_SHAPE_KEYS = ("q", "url", "pol", "lex", "mid@", "hash", "excl")


@dataclass(frozen=True)
class ResponseHead:
    """A binary logistic model for requires_response over words, lexicon signals and the shape of the post,
    trained with scikit-learn (inbox/triage/train.py `fit_response_head`) and stored as JSON.

    `intercept` already includes the decision threshold chosen on the training half, so `score() >= 0.5`
    is the decision, as for every other requires_response score. Applied with a few dict lookups per post
    (no feature dict is built): it runs on every English mention. The words of @handles have no weight
    (training leaves them out): the head must not learn which brand's data set a post came from.
    """

    version: str = ""
    intercept: float = 0.0
    words: dict[str, float] = field(default_factory=dict)
    signals: dict[str, float] = field(default_factory=dict)
    # shape: "len:<tokens // 5, capped at 8>", "q" (a question mark), "url", "pol" (lexicon polarity / 3,
    # clipped to ±1), "lex" (the lexicon head's log-odds / 3), "mid@" (an @handle after the first word: the
    # brand tagged inside a sentence), "hash" (a hashtag), "excl" (an exclamation mark)
    shape: dict[str, float] = field(default_factory=dict)
    # The first word after the @handles the post opens with ("" when there is none): "hi", "how", "why" open a
    # new request; "yes", "nope", "that", "it", "done" answer something said before (see `conversation_cues`).
    starts: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The shape weights as plain floats, looked up once here rather than by name on every post.
        get = self.shape.get
        object.__setattr__(self, "_len", tuple(get(f"len:{i}", 0.0) for i in range(9)))
        object.__setattr__(self, "_shape", tuple(get(k, 0.0) for k in _SHAPE_KEYS))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ResponseHead":
        return cls(version=str(data.get("version", "")), intercept=float(data.get("intercept", 0.0)),
                   words={k: float(v) for k, v in data["words"].items()},
                   signals={k: float(v) for k, v in data["signals"].items()},
                   shape={k: float(v) for k, v in data["shape"].items()},
                   starts={k: float(v) for k, v in data.get("starts", {}).items()})

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "intercept": self.intercept, "words": self.words,
                "signals": self.signals, "shape": self.shape, "starts": self.starts}

    @classmethod
    def from_features(cls, version: str, intercept: float, weights: dict[str, float]) -> "ResponseHead":
        """From `response_features` names and their trained weights."""
        parts: dict[str, dict[str, float]] = {"w:": {}, "s:": {}, "f:": {}}
        shape = {}
        for name, w in weights.items():
            if name[:2] in parts:
                parts[name[:2]][name[2:]] = w
            else:
                shape[name] = w
        return cls(version=version, intercept=intercept, words=parts["w:"], signals=parts["s:"], shape=shape,
                   starts=parts["f:"])

    def score(self, text: str, folded: str, toks: list[str], signals: dict[str, float], polarity: float,
              lexicon_logit: float) -> float:
        """Exactly the sum of weight × value over `response_features(...)`, without building them."""
        z = self.intercept + sum(map(self.words.get, set(toks), repeat(0.0)))
        get = self.signals.get
        for s, v in signals.items():
            z += get(s, 0.0) * (v if v < 3.0 else 3.0)
        q, url, pol, lex, tagged, hashtag, excl = self._shape  # type: ignore[attr-defined]
        n = len(toks)
        z += self._len[n // 5 if n < 40 else 8]  # type: ignore[attr-defined]
        if "?" in text:
            z += q
        if "http" in folded:
            z += url
        z += pol * (polarity if -3.0 <= polarity <= 3.0 else (3.0 if polarity > 0 else -3.0)) / 3.0
        z += lex * lexicon_logit / 3.0
        first, tagged_inside = conversation_cues(folded, toks)
        z += self.starts.get(first, 0.0)
        if tagged_inside:
            z += tagged
        if "#" in text:
            z += hashtag
        if "!" in text:
            z += excl
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))



def response_features(text: str, folded: str, toks: list[str], signals: dict[str, float], polarity: float,
                      lexicon_logit: float) -> dict[str, float]:
    """The features `ResponseHead` is trained on (`ResponseHead.score` computes the same sum directly)."""
    feats = {"w:" + w: 1.0 for w in toks}
    for s, v in signals.items():
        feats["s:" + s] = v if v < 3.0 else 3.0
    feats["len:" + str(min(len(toks) // 5, 8))] = 1.0
    if "?" in text:
        feats["q"] = 1.0
    if "http" in folded:
        feats["url"] = 1.0
    feats["pol"] = max(-3.0, min(3.0, polarity)) / 3.0
    feats["lex"] = lexicon_logit / 3.0
    first, tagged_inside = conversation_cues(folded, toks)
    feats["f:" + first] = 1.0
    if tagged_inside:
        feats["mid@"] = 1.0
    if "#" in text:
        feats["hash"] = 1.0
    if "!" in text:
        feats["excl"] = 1.0
    return feats


# The @handles a post opens with (".@brand" too): on X a reply starts with them, and so does a post addressed to
# the brand, so the head is not told whether they are there (every closer of the evaluation is a reply: that
# cue would teach "a reply needs no answer" and miss "@brand my order never arrived"). It reads what follows.
# Read on the folded text, which triage() has already made: no second pass over the post.
_LEADING_HANDLES = re.compile(r"\s*(?:\.?@\w+[\s,:]*)+")
_HANDLE = re.compile(r"@\w")


def conversation_cues(folded: str, toks: list[str]) -> tuple[str, bool]:
    """The first word after the leading @handles ("" if none), and whether an @handle comes after that point: a
    brand tagged inside a sentence ("my order never arrived @AcmeHelp") is a post of its own, not a reply.
    `folded` and `toks` are `text.fold(post)` and `text.tokens(folded)`."""
    if "@" not in folded:
        return (toks[0] if toks else ""), False
    lead = _LEADING_HANDLES.match(folded)
    if lead is None:
        return (toks[0] if toks else ""), _HANDLE.search(folded) is not None
    first = TOKEN.search(folded, lead.end())
    return (first.group() if first else ""), _HANDLE.search(folded, lead.end()) is not None
