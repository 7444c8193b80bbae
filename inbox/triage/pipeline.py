"""The triage pipeline: small pure steps, one entry point (`triage`) for ingest, the API and the CLI.

fold → tokens → lexicon signals → language → sentiment → personal data → category →
requires_response → priority → routing. Nothing here touches the database: the tenant's
configuration (custom categories and patterns, routing rules, learned model) comes in
as a `TriageConfig` built by the inbox.
"""

import json
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .lexicon import INDEX, LANG_TABLE, NEGATORS, PREFIXES, STARTS
from .model import LinearModel, ResponseHead, features_for
from .pii import CustomPattern, PersonalDataSpan, find_personal_data
from .routing import RouteRule, route
from .text import fold, tokens

CATEGORIES = ("complaint", "question", "request", "praise", "suggestion", "noise")


@dataclass(frozen=True)
class TriageInput:
    text: str
    followers_count: int = 0
    verified: bool = False
    language_hint: str = ""
    platform: str = ""
    channel_id: int | None = None
    # How many complaints this author already made this week (the inbox counts them).
    author_complaints_week: int = 0


@dataclass(frozen=True)
class TriageConfig:
    """A tenant's triage configuration, loaded by the inbox and passed in."""

    custom_patterns: tuple[CustomPattern, ...] = ()
    categories: tuple[str, ...] = ()  # the tenant's own, on top of CATEGORIES
    rules: tuple[RouteRule, ...] = ()
    model: LinearModel | None = None


DEFAULT_CONFIG = TriageConfig()


@dataclass(frozen=True)
class TriageDecision:
    ignore: bool
    requires_response: bool
    category: str
    priority: int
    language: str
    personal_data: list[str] = field(default_factory=list)  # kinds, for the case row and its filters
    reasons: list[str] = field(default_factory=list)
    requires_response_score: float = 0.0
    sentiment: str = "neutral"
    sentiment_score: float = 0.0
    spans: list[PersonalDataSpan] = field(default_factory=list)
    private_suggested: bool = False
    team_id: int | None = None
    tags: list[str] = field(default_factory=list)
    rule: str = ""
    model_version: str = "baseline"

    def as_dict(self) -> dict[str, Any]:
        # By hand, not dataclasses.asdict: its deep copy cost more than the triage itself on ingest's hot path.
        data = {f.name: getattr(self, f.name) for f in _DECISION_FIELDS}
        for name in ("personal_data", "reasons", "tags"):
            data[name] = list(data[name])
        data["spans"] = [s.as_dict() for s in self.spans]
        return data

    def as_cli(self, item_id: Any) -> dict[str, Any]:
        """The CLI's documented line (docs/triage.md)."""
        return {
            "id": item_id, "language": self.language, "sentiment": self.sentiment,
            "sentiment_score": self.sentiment_score, "category": self.category,
            "requires_response": self.requires_response, "requires_response_score": self.requires_response_score,
            "personal_data": [s.as_dict() for s in self.spans], "priority": self.priority,
            "private_suggested": self.private_suggested,
        }


_DECISION_FIELDS = fields(TriageDecision)


# ------------------------------------------------------------------ steps

def signals_of(toks: list[str]) -> tuple[dict[str, float], dict[str, list[str]], float]:
    """Lexicon hits: signal → summed weight, signal → the phrases that fired, and the polarity sum
    with negation applied (a negator flips the next two tokens' sentiment)."""
    sums: dict[str, float] = {}
    hits: dict[str, list[str]] = {}
    polarity = 0.0
    negated_until = -1
    n = len(toks)
    index, prefixes = INDEX, PREFIXES
    # Most tokens start no phrase and negate nothing: skipping them here, at C speed, is what keeps long
    # complaints fast (the walk below is a few dict lookups per token).
    for i in [i for i, t in enumerate(toks) if t in STARTS]:
        tok = toks[i]
        if tok in NEGATORS:
            negated_until = i + 2
        phrase = tok
        j = i
        while True:
            entries = index.get(phrase)
            if entries is not None:
                for signal, weight in entries:
                    if signal == "pos" or signal == "neg":
                        w = weight if signal == "pos" else -weight
                        # "não gostei" is negative; "não funciona" is already a negative phrase of its own.
                        if negated_until >= i and j == i and tok not in NEGATORS and w > 0:
                            w = -w
                        polarity += w
                        continue
                    sums[signal] = sums.get(signal, 0.0) + weight
                    hits.setdefault(signal, []).append(phrase)
            j += 1
            if j >= n or phrase not in prefixes:
                break
            phrase = phrase + " " + toks[j]
    return sums, hits, polarity


def detect_language(toks: list[str], text: str, hint: str = "") -> str:
    """pt, en, es or und, from function words; accents and ñ/¿ settle close calls."""
    pt = en = es = 0.0
    for v in filter(None, map(LANG_TABLE.get, toks)):  # only the function words, looked up at C speed
        pt += v[0]
        en += v[1]
        es += v[2]
    if "ã" in text or "õ" in text or "ç" in text:
        pt += 1.5
    if "ñ" in text or "¿" in text or "¡" in text:
        es += 1.5
    best = max(pt, en, es)
    h = hint[:2].lower()
    if best < 1.0:
        return h if h in ("pt", "en", "es") else "und"
    if pt == best and pt > en and pt > es:
        return "pt"
    if en == best and en > pt and en > es:
        return "en"
    if es == best and es > pt and es > en:
        return "es"
    if h in ("pt", "en", "es"):
        return h
    return "pt" if pt == best else ("en" if en == best else "es")


def sentiment_of(polarity: float, sums: dict[str, float], text: str) -> tuple[str, float]:
    score = polarity - 0.6 * sums.get("complaint", 0.0) * (polarity >= 0) + 0.3 * sums.get("thanks", 0.0)
    if "!!" in text and score < 0:
        score -= 0.5
    score = round(math.tanh(score / 2.5), 3)
    if score <= -0.2:
        return "negative", score
    if score >= 0.25:
        return "positive", score
    return "neutral", score


_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"@\w+")


def category_of(sums: dict[str, float], text: str, sentiment: float, n_tokens: int) -> tuple[str, dict[str, float]]:
    questions = text.count("?")
    scores = {
        "complaint": sums.get("complaint", 0.0) + sums.get("legal", 0.0) + max(0.0, -sentiment) * 1.5,
        "question": sums.get("question", 0.0) * 0.8 + min(questions, 2) * 1.2,
        "request": sums.get("request", 0.0) * 0.9,
        "praise": sums.get("praise", 0.0) + sums.get("thanks", 0.0) * 0.8 + max(0.0, sentiment),
        "suggestion": sums.get("suggestion", 0.0) * 1.2,
        "noise": sums.get("noise", 0.0) * 1.2 + (1.0 if n_tokens <= 1 else 0.0),
    }
    best = max(scores, key=scores.__getitem__)
    if scores[best] <= 0.0:
        return "noise", scores
    return best, scores


# Hand-set linear weights of the baseline requires_response head, over the lexicon signals
# (set on the dev split of bench/triage_eval.py, never on its held-out split).
RR_WEIGHTS = {
    "complaint": 1.2, "question": 0.8, "request": 0.8, "legal": 1.5, "urgent": 0.5, "churn": 0.6,
    "praise": -0.8, "thanks": -1.1, "noise": -1.3, "suggestion": 0.4,
}
RR_BIAS = -1.0


def requires_response_logit(sums: dict[str, float], text: str, sentiment: float, n_tokens: int,
                            personal: bool) -> float:
    """The lexicon head: log-odds that the post needs an answer (the English head takes it as a feature)."""
    z = RR_BIAS
    asks = sums.get("complaint", 0.0) + sums.get("question", 0.0) + sums.get("request", 0.0)
    for signal, weight in RR_WEIGHTS.items():
        v = sums.get(signal)
        if v:
            if signal == "thanks" and asks:
                v *= 0.3  # "can you update my points? thanks" is a request, not a closer
            z += weight * min(v, 3.0)
    if "?" in text:
        z += 1.2
    z += -1.2 * sentiment if sentiment < 0 else -0.8 * sentiment
    # Longer posts are accounts of a problem; one-liners are closers and chatter.
    z += min(n_tokens, 40) * 0.05 - (1.0 if n_tokens <= 3 and not asks else 0.0)
    if personal:
        z += 2.5
    return z


def _load_baseline() -> LinearModel | None:
    """inbox/triage/data/baseline_model.json, built by `python -m inbox.triage.build_baseline`."""
    path = Path(__file__).resolve().parent / "data" / "baseline_model.json"
    try:
        return LinearModel.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


BASELINE_MODEL = _load_baseline()


def _load_response_head(name: str) -> ResponseHead | None:
    """inbox/triage/data/rr_<lang>.json, built by `python -m inbox.triage.build_baseline --shared …`."""
    path = Path(__file__).resolve().parent / "data" / name
    try:
        return ResponseHead.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError):
        return None


# English requires_response: the lexicon head alone could not tell an opening complaint from a follow-up
# nobody needed to answer ("sent you a DM", "ok will try") well enough; this head learned it from real
# threads. `und` posts (emoji, a link, one word) go through it too: it has seen many of those, pt has not.
RESPONSE_HEADS = {"en": _load_response_head("rr_en.json")}
RESPONSE_HEADS["und"] = RESPONSE_HEADS["en"]

BASE_PRIORITY = {"complaint": 50, "request": 40, "question": 38, "suggestion": 22, "praise": 10, "noise": 5}


def triage(item: TriageInput, config: TriageConfig = DEFAULT_CONFIG) -> TriageDecision:
    text = item.text
    folded = fold(text)
    toks = tokens(folded)
    sums, hits, polarity = signals_of(toks)
    language = detect_language(toks, text, item.language_hint)
    sentiment, sentiment_score = sentiment_of(polarity, sums, text)
    spans = find_personal_data(text, config.custom_patterns)
    kinds = sorted({s.kind for s in spans})
    category, category_scores = category_of(sums, text, sentiment_score, len(toks))
    if category_scores[category] <= 0.0 and BASELINE_MODEL is not None:
        # No lexicon signal at all: the linear model trained on the project's own corpus makes the call.
        learned = BASELINE_MODEL.category(features_for(toks, sums))
        if learned is not None:
            category = learned[0]
    rr_logit = requires_response_logit(sums, text, sentiment_score, len(toks), bool(spans))
    head = RESPONSE_HEADS.get(language)
    if head is not None:
        rr_score = head.score(text, folded, toks, sums, polarity, rr_logit)
    else:
        rr_score = 1.0 / (1.0 + math.exp(-rr_logit))
    if spans and category in ("noise", "praise"):
        # Someone who posts a phone number or an e-mail wants to be contacted.
        category = "request"
    reasons: list[str] = []
    model_version = "baseline"
    model = config.model
    if model is not None:
        feats = features_for(toks, sums)
        learned = model.category(feats)
        if learned is not None and learned[1] >= 0.5:
            category = learned[0]
            reasons.append(f"category learned from agents' corrections ({model.version})")
        learned_rr = model.requires_response(feats)
        if learned_rr is not None:
            rr_score = learned_rr
        model_version = model.version
    for name in ("complaint", "question", "request", "praise", "thanks", "suggestion", "noise"):
        if name in hits:
            reasons.append(f"{name}: {', '.join(sorted(set(hits[name]))[:4])}")
    if sentiment != "neutral":
        reasons.append(f"sentiment {sentiment} ({sentiment_score:+.2f})")

    requires_response = rr_score >= 0.5 or bool(spans)
    priority = BASE_PRIORITY.get(category, 30)
    if sentiment_score < 0:
        priority += round(-sentiment_score * 12)
    if "legal" in hits:
        priority += 25
        reasons.append(f"legal risk: {', '.join(sorted(set(hits['legal'])))}")
    if "churn" in hits:
        priority += 8
        reasons.append(f"churn risk: {', '.join(sorted(set(hits['churn']))[:3])}")
    if "urgent" in hits:
        priority += 8
        reasons.append(f"urgency: {', '.join(sorted(set(hits['urgent']))[:3])}")
    if spans:
        priority += 5
        reasons.append(f"personal data: {', '.join(kinds)} (answer privately)")
    if item.followers_count >= 1000:
        boost = min(15, round(3 * math.log10(item.followers_count / 100)))
        priority += boost
        reasons.append(f"influence: {item.followers_count} followers (+{boost})")
    if item.verified:
        priority += 5
        reasons.append("verified author")
    if item.author_complaints_week > 0:
        boost = min(15, 5 * item.author_complaints_week)
        priority += boost
        reasons.append(f"{item.author_complaints_week} earlier complaint(s) this week (+{boost})")

    team_id, tags, rule_name = None, [], ""
    matched = route(config.rules, folded=folded, text=text, channel_id=item.channel_id, category=category,
                    language=language) if config.rules else None
    if matched is not None:
        team_id, tags, rule_name = matched.team_id, list(matched.tags), matched.name
        priority += matched.priority_boost
        reasons.append(f"rule “{matched.name}”" + (f": priority {matched.priority_boost:+d}"
                                                   if matched.priority_boost else ""))
        if matched.auto_ignore:
            requires_response = False
            reasons.append(f"rule “{matched.name}”: ignored")
    if not requires_response:
        priority = min(priority, 20)
        if matched is None or not matched.auto_ignore:
            reasons.append("no answer needed")
    return TriageDecision(
        ignore=not requires_response,
        requires_response=requires_response,
        requires_response_score=round(rr_score, 3),
        category=category,
        priority=max(0, min(100, priority)),
        language=language,
        sentiment=sentiment,
        sentiment_score=sentiment_score,
        personal_data=kinds,
        spans=spans,
        private_suggested=bool(spans),
        reasons=reasons,
        team_id=team_id,
        tags=tags,
        rule=rule_name,
        model_version=model_version,
    )
