"""Learning a tenant's model from its agents' corrections (scikit-learn), and judging it fairly.

The held-back slice is chosen by a hash of the text, so the same correction stays on the same
side across retrainings and a candidate is never scored on what it was trained on.
"""

import math
import re
import zlib
from dataclasses import dataclass

from .model import LinearModel, ResponseHead, features_for, response_features
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


def response_head_features(text: str) -> dict[str, float]:
    """`response_features` of one post, computed exactly as `triage()` computes them."""
    from .pii import find_personal_data
    from .pipeline import requires_response_logit, sentiment_of

    folded = fold(text)
    toks = tokens(folded)
    sums, _, polarity = signals_of(toks)
    sentiment = sentiment_of(polarity, sums, text)[1]
    logit = requires_response_logit(sums, text, sentiment, len(toks), bool(find_personal_data(text)))
    return response_features(text, folded, toks, sums, polarity, logit)


@dataclass(frozen=True)
class LabelledPost:
    text: str
    requires_response: bool
    source: str  # the data set it came from: a word must occur in two of them to become a feature
    # False for extra training posts unlike the evaluation's (more closers of one brand): they train every
    # cross-validation fold but are never scored, so the threshold is chosen on posts like the held-out ones.
    scored: bool = True


_HANDLE = re.compile(r"@\w+")
# Word features (any word of the post; the first word after its leading @handles): the vocabulary below decides
# which of them the head may learn.
_SPARSE = ("w:", "f:")


def _vocabulary(feature_rows: list[dict[str, float]], sources: list[str], labels: list[bool], texts: list[str],
                min_posts: int = 3, max_ratio: float = 4.0, min_group: int = 50) -> set[str]:
    """Words seen in at least `min_posts` posts, more often in the text than in @handles ("amazonhelp" goes,
    "help" stays), and used about as often in every source among the posts with the same label (no more than
    `max_ratio` times more often in one source's closers than in another's). A word one data set uses much
    more (a brand's products: "song", "playlist"; the promotion running that week: "burrito") or a brand's
    handle would teach the head which data set a post came from instead of whether it needs an answer:
    every @SpotifyCares post in the evaluation is a closer."""
    in_handles: dict[str, int] = {}
    elsewhere: dict[str, int] = {}
    for text in texts:
        folded = fold(text)
        for w in tokens(" ".join(_HANDLE.findall(folded))):
            in_handles[w] = in_handles.get(w, 0) + 1
        for w in tokens(_HANDLE.sub(" ", folded)):
            elsewhere[w] = elsewhere.get(w, 0) + 1
    handle_words = {w for w, n in in_handles.items() if n >= elsewhere.get(w, 0)}
    per_group: dict[tuple[str, bool], dict[str, int]] = {}
    size: dict[tuple[str, bool], int] = {}
    total: dict[str, int] = {}
    for row, source, label in zip(feature_rows, sources, labels, strict=True):
        group = (source, label)
        size[group] = size.get(group, 0) + 1
        seen = per_group.setdefault(group, {})
        for f in row:
            if f[:2] in _SPARSE:
                seen[f] = seen.get(f, 0) + 1
                total[f] = total.get(f, 0) + 1
    by_label = [[g for g in size if g[1] == label and size[g] >= min_group] for label in (True, False)]

    def even(f: str) -> bool:
        for groups in by_label:
            if len(groups) >= 2:
                rates = [(per_group[g].get(f, 0) + 0.5) / size[g] for g in groups]
                if max(rates) > max_ratio * min(rates):
                    return False
        return True

    return {f for f, n in total.items() if n >= min_posts and f[2:] not in handle_words and even(f)}


def _keep(row: dict[str, float], vocabulary: set[str]) -> dict[str, float]:
    return {f: v for f, v in row.items() if f[:2] not in _SPARSE or f in vocabulary}


def fit_response_head(posts: list[LabelledPost], version: str, c: float = 0.3,
                      folds: int = 5) -> tuple[ResponseHead, dict[str, float]]:
    """Train the requires_response head; pick its decision threshold by cross-validation on `posts` (so
    nothing outside the training half is looked at) and fold it into the intercept. Returns the head and
    the cross-validated figures at the chosen threshold."""
    import numpy as np
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    rows = [response_head_features(p.text) for p in posts]
    sources = [p.source for p in posts]
    labels = np.array([p.requires_response for p in posts])

    def train(idx: list[int]) -> tuple[DictVectorizer, LogisticRegression]:
        vocabulary = _vocabulary([rows[i] for i in idx], [sources[i] for i in idx], [bool(labels[i]) for i in idx],
                                 [posts[i].text for i in idx])
        vectorizer = DictVectorizer()
        x = vectorizer.fit_transform([_keep(rows[i], vocabulary) for i in idx])
        # Balanced: the head must not simply learn how many closers the training threads happened to have.
        clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        clf.fit(x, labels[idx])
        return vectorizer, clf

    scored = np.array([i for i, p in enumerate(posts) if p.scored])
    extra = [i for i, p in enumerate(posts) if not p.scored]
    predicted = np.zeros(len(scored))
    splits = StratifiedKFold(folds, shuffle=True, random_state=0).split(scored, labels[scored])
    for train_idx, test_idx in splits:
        vectorizer, clf = train([int(i) for i in scored[train_idx]] + extra)
        predicted[test_idx] = clf.predict_proba(vectorizer.transform([rows[i] for i in scored[test_idx]]))[:, 1]
    labels_scored = labels[scored]

    def f1_at(t: float) -> float:
        tp = int(((predicted >= t) & labels_scored).sum())
        fp = int(((predicted >= t) & ~labels_scored).sum())
        fn = int(((predicted < t) & labels_scored).sum())
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    threshold = max((round(float(t), 2) for t in np.arange(0.2, 0.81, 0.05)), key=f1_at)
    vectorizer, clf = train(list(range(len(posts))))
    names = vectorizer.get_feature_names_out()
    weights = {str(n): round(float(w), 4) for n, w in zip(names, clf.coef_[0], strict=True) if abs(w) >= 1e-3}
    intercept = float(clf.intercept_[0]) - math.log(threshold / (1 - threshold))
    head = ResponseHead.from_features(version, round(intercept, 4), weights)
    return head, {"cv_f1": round(f1_at(threshold), 4), "cv_f1_at_0.5": round(f1_at(0.5), 4),
                  "threshold": threshold, "n": len(posts), "positives": int(labels.sum()), "scored": len(scored)}
