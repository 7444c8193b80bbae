"""A linear model over token and signal features, applied in pure Python (a dict lookup per feature).

Trained with scikit-learn (inbox/triage/train.py) and stored as plain JSON, so
applying it costs no numpy call per post and a tenant's model is one JSON row.
"""

import math
from dataclasses import dataclass, field
from itertools import repeat
from operator import add
from typing import Any


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
    # clipped to ±1), "lex" (the lexicon head's log-odds / 3)
    shape: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ResponseHead":
        return cls(version=str(data.get("version", "")), intercept=float(data.get("intercept", 0.0)),
                   words={k: float(v) for k, v in data["words"].items()},
                   signals={k: float(v) for k, v in data["signals"].items()},
                   shape={k: float(v) for k, v in data["shape"].items()})

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "intercept": self.intercept, "words": self.words,
                "signals": self.signals, "shape": self.shape}

    @classmethod
    def from_features(cls, version: str, intercept: float, weights: dict[str, float]) -> "ResponseHead":
        """From `response_features` names and their trained weights."""
        parts: dict[str, dict[str, float]] = {"w:": {}, "s:": {}}
        shape = {}
        for name, w in weights.items():
            if name[:2] in parts:
                parts[name[:2]][name[2:]] = w
            else:
                shape[name] = w
        return cls(version=version, intercept=intercept, words=parts["w:"], signals=parts["s:"], shape=shape)

    def score(self, text: str, folded: str, toks: list[str], signals: dict[str, float], polarity: float,
              lexicon_logit: float) -> float:
        """Exactly the sum of weight × value over `response_features(...)`, without building them."""
        z = self.intercept + sum(map(self.words.get, set(toks), repeat(0.0)))
        get = self.signals.get
        for s, v in signals.items():
            z += get(s, 0.0) * (v if v < 3.0 else 3.0)
        shape = self.shape
        z += shape.get(_LEN[len(toks) // 5] if len(toks) < 40 else "len:8", 0.0)
        if "?" in text:
            z += shape.get("q", 0.0)
        if "http" in folded:
            z += shape.get("url", 0.0)
        z += shape.get("pol", 0.0) * max(-3.0, min(3.0, polarity)) / 3.0 + shape.get("lex", 0.0) * lexicon_logit / 3.0
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


_LEN = tuple(f"len:{i}" for i in range(8))


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
    return feats
