"""A linear model over token and signal features, applied in pure Python (a dict lookup per feature).

Trained with scikit-learn (inbox/triage/train.py) and stored as plain JSON, so
applying it costs no numpy call per post and a tenant's model is one JSON row.
"""

import math
from dataclasses import dataclass, field
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
        for f in features:
            w = self.weights.get(f)
            if w is not None:
                for i in range(n):
                    scores[i] += w[i]
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
