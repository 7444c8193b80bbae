"""Learning a tenant's model from its agents' corrections (scikit-learn), and judging it fairly.

The held-back slice is chosen by a hash of the text, so the same correction stays on the same
side across retrainings and a candidate is never scored on what it was trained on.
"""

import zlib
from dataclasses import dataclass

from .model import LinearModel, features_for
from .pipeline import TriageConfig, TriageInput, signals_of, triage
from .text import fold, tokens


@dataclass(frozen=True)
class Example:
    text: str
    category: str
    requires_response: bool


def held_back(text: str, share: int = 5) -> bool:
    """One in `share` examples (20 %) is kept out of training to judge the model."""
    return zlib.crc32(text.encode("utf-8")) % share == 0


def _features(text: str) -> dict[str, float]:
    toks = tokens(fold(text))
    sums, _, _ = signals_of(toks)
    return dict.fromkeys(features_for(toks, sums), 1.0)


def fit(examples: list[Example], version: str) -> LinearModel:
    """A multinomial logistic regression for the category and a binary one for requires_response."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform([_features(e.text) for e in examples])
    names = vectorizer.get_feature_names_out()
    categories = sorted({e.category for e in examples})
    classes: tuple[str, ...] = ()
    weights: dict[str, tuple[float, ...]] = {}
    intercepts: tuple[float, ...] = ()
    if len(categories) >= 2:
        clf = LogisticRegression(C=4.0, max_iter=300)
        clf.fit(x, [e.category for e in examples])
        classes = tuple(str(c) for c in clf.classes_)
        coef = clf.coef_
        if len(classes) == 2:  # binary: sklearn keeps one row for the second class
            coef = [-coef[0] / 2, coef[0] / 2]
            intercepts = (-float(clf.intercept_[0]) / 2, float(clf.intercept_[0]) / 2)
        else:
            intercepts = tuple(float(b) for b in clf.intercept_)
        for j, name in enumerate(names):
            row = tuple(round(float(coef[i][j]), 4) for i in range(len(classes)))
            if any(abs(w) > 1e-4 for w in row):
                weights[str(name)] = row
    rr_weights: dict[str, float] = {}
    rr_intercept = 0.0
    labels = [e.requires_response for e in examples]
    if len(set(labels)) == 2:
        rr = LogisticRegression(C=4.0, max_iter=300)
        rr.fit(x, labels)
        rr_intercept = float(rr.intercept_[0])
        rr_weights = {str(n): round(float(w), 4) for n, w in zip(names, rr.coef_[0], strict=True) if abs(w) > 1e-4}
    else:  # every example says the same: learn that as a bias
        rr_intercept = 4.0 if labels and labels[0] else -4.0
    return LinearModel(version=version, classes=classes, weights=weights, intercepts=intercepts,
                       rr_weights=rr_weights, rr_intercept=rr_intercept)


def score(examples: list[Example], config: TriageConfig) -> dict[str, float]:
    """Category accuracy and requires_response F1 of the whole pipeline with this config."""
    if not examples:
        return {"category_accuracy": 0.0, "requires_response_f1": 0.0, "score": 0.0, "n": 0}
    right = tp = fp = fn = 0
    for e in examples:
        d = triage(TriageInput(e.text), config)
        right += d.category == e.category
        if d.requires_response and e.requires_response:
            tp += 1
        elif d.requires_response:
            fp += 1
        elif e.requires_response:
            fn += 1
    accuracy = right / len(examples)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else (1.0 if not fp and not fn else 0.0)
    return {"category_accuracy": round(accuracy, 4), "requires_response_f1": round(f1, 4),
            "score": round((accuracy + f1) / 2, 4), "n": len(examples)}
