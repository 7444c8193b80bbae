"""Rule-based baseline triage for pt-BR and English: keywords, a personal-data scan, a priority score."""

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TriageInput:
    text: str
    followers_count: int = 0
    verified: bool = False
    language_hint: str = ""


@dataclass(frozen=True)
class TriageDecision:
    ignore: bool
    requires_response: bool
    category: str
    priority: int
    language: str
    personal_data: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fold(text: str) -> str:
    """Lower case without accents, so 'não' and 'nao', 'reclamação' and 'reclamacao' match alike."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Each list is folded (no accents). Word boundaries are added when compiling.
COMPLAINT = [
    "nao funciona", "parou de funcionar", "sem internet", "sem sinal", "caiu", "caindo", "lenta", "lento",
    "pessimo", "pessima", "horrivel", "absurdo", "descaso", "vergonha", "cobranca indevida", "cobrado",
    "cobraram", "reclamacao", "problema", "defeito", "atraso", "atrasado", "ninguem resolve", "cancelar",
    "cancelamento", "nunca mais", "nao consigo", "fora do ar", "estorno", "reembolso",
    "not working", "doesn't work", "does not work", "broken", "down", "outage", "terrible", "awful",
    "worst", "charged", "overcharged", "refund", "still waiting", "no signal", "no internet", "cancel",
    "disappointed", "ridiculous", "useless", "complaint", "can't", "cannot", "unacceptable",
]
QUESTION = [
    "como faco", "como faço", "como posso", "alguem sabe", "qual o", "qual a", "quando", "onde", "por que",
    "porque", "tem como", "duvida", "gostaria de saber", "how do i", "how can i", "when will", "why is",
    "is there", "can you", "could you", "what is", "where",
]
REQUEST = ["quero", "preciso", "solicito", "por favor", "pfv", "pls", "please", "i need", "i want", "need help",
           "help me", "me ajuda", "me ajudem", "ajuda"]
PRAISE = ["obrigado", "obrigada", "valeu", "parabens", "excelente", "otimo", "otima", "adorei", "amei",
          "top demais", "melhor operadora", "thank you", "thanks", "love", "great", "awesome", "amazing",
          "excellent", "best"]
NOISE = ["kkkk", "hahaha", "sorteio", "giveaway", "promo", "rt se", "follow back", "bom dia grupo", "meme"]
LEGAL_RISK = ["procon", "reclame aqui", "reclameaqui", "processo", "processar", "advogado", "justica",
              "anatel", "consumidor.gov", "juizado", "lawyer", "lawsuit", "sue ", "regulator"]
URGENT = ["urgente", "urgencia", "emergencia", "hoje", "agora", "ja faz", "dias sem", "semana sem", "urgent",
          "asap", "emergency", "right now", "days without"]

PT_MARKERS = ["nao", "voces", "vcs", "voce", "meu", "minha", "para", "pra", "com", "que", "esta", "estou", "ja",
              "uma", "internet", "obrigado", "muito", "fatura", "conta"]
EN_MARKERS = ["the", "my", "you", "your", "is", "and", "not", "with", "this", "for", "have", "been", "still",
              "internet", "bill", "account", "thanks"]


def _compile(words: list[str]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(_fold(w)) for w in words) + r")(?!\w)")


_PATTERNS = {name: _compile(words) for name, words in {
    "complaint": COMPLAINT, "question": QUESTION, "request": REQUEST, "praise": PRAISE, "noise": NOISE,
    "legal": LEGAL_RISK, "urgent": URGENT,
}.items()}

# Personal data that must not be discussed in public. Deliberately broad: a false
# positive costs a private reply, a false negative exposes a customer.
PERSONAL_DATA = {
    "email": re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
    "cpf": re.compile(r"(?<!\d)\d{3}\.?\d{3}\.?\d{3}-?\d{2}(?!\d)"),
    "phone": re.compile(
        r"(?<!\d)(?:\+?55\s?)?\(?\d{2}\)?\s?9?\d{4}[-\s]?\d{4}(?!\d)"  # Brazil
        r"|(?<!\d)(?:\+?351\s?)?9[1236]\d[\s]?\d{3}[\s]?\d{3}(?!\d)"  # Portugal mobiles
    ),
    "card": re.compile(r"(?<!\d)(?:\d{4}[ -]?){3}\d{4}(?!\d)"),
}


def detect_language(text: str, hint: str = "") -> str:
    folded = _fold(text)
    words = re.findall(r"[a-z']+", folded)
    pt = sum(w in PT_MARKERS for w in words) + 2 * bool(re.search("[ãõç]", text.lower()))
    en = sum(w in EN_MARKERS for w in words)
    if pt == en:
        return hint[:2] if hint[:2] in ("pt", "en") else ("pt" if pt else "und")
    return "pt" if pt > en else "en"


def find_personal_data(text: str) -> list[str]:
    return [kind for kind, pattern in PERSONAL_DATA.items() if pattern.search(text)]


def triage(item: TriageInput) -> TriageDecision:
    folded = _fold(item.text)
    hits = {name: sorted(set(m.group(1) for m in p.finditer(folded))) for name, p in _PATTERNS.items()}
    reasons: list[str] = []
    personal = find_personal_data(item.text)

    if hits["complaint"]:
        category = "complaint"
    elif hits["question"] or "?" in item.text:
        category = "question"
    elif hits["request"]:
        category = "request"
    elif hits["praise"]:
        category = "praise"
    elif hits["noise"]:
        category = "noise"
    else:
        category = "other"
    for name in ("complaint", "question", "request", "praise", "noise"):
        if hits[name]:
            reasons.append(f"{name}: {', '.join(hits[name][:4])}")

    requires_response = category in ("complaint", "question", "request") or bool(personal) or bool(hits["legal"])
    priority = {"complaint": 55, "question": 40, "request": 40, "praise": 15, "other": 20, "noise": 5}[category]
    if hits["legal"]:
        priority += 25
        reasons.append(f"legal risk: {', '.join(hits['legal'])}")
    if hits["urgent"]:
        priority += 10
        reasons.append(f"urgency: {', '.join(hits['urgent'][:3])}")
    if personal:
        priority += 5
        reasons.append(f"personal data: {', '.join(personal)} (answer privately)")
    if item.followers_count >= 10_000:
        priority += 10
        reasons.append(f"influence: {item.followers_count} followers")
    if item.verified:
        priority += 5
        reasons.append("verified author")
    if not requires_response:
        reasons.append("no complaint, question or request: ignored")
    return TriageDecision(
        ignore=not requires_response,
        requires_response=requires_response,
        category=category,
        priority=max(0, min(100, priority)),
        language=detect_language(item.text, item.language_hint),
        personal_data=personal,
        reasons=reasons,
    )
