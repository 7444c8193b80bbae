"""Personal data masked in customer text wherever it is listed outside the case itself: the queue, the Ignored page,
the SLA dashboard and digest e-mail, the API. Templates reach these through the triage_tags and queue_tags filters."""

from .models import Case
from .triage import find_personal_data

MASK = "•"


def mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(max(0, start), min(len(chars), end)):
            if not chars[i].isspace():
                chars[i] = MASK
    return "".join(chars)


def mask_subject(text: str, personal_data: list[str], stored: list[dict] | None) -> str:
    """masked_subject from the values alone (the queue reads rows as values, not Case instances)."""
    if not personal_data:
        return text
    if stored:
        return mask_spans(text, [(s["start"], s["end"]) for s in stored])
    return mask_spans(text, [(s.start, s.end) for s in find_personal_data(text)])


def masked_subject(case: Case) -> str:
    """The case's subject with the personal data triage found blanked out (the subject is the first post's
    first 140 characters, so the stored spans apply; older decisions without spans are scanned again)."""
    return mask_subject(case.subject, case.personal_data, (case.triage or {}).get("spans"))


def masked_text(text: str) -> str:
    """Customer text with no stored triage spans at hand (the dashboard's crisis posts): scanned for personal data
    with the built-in patterns, then masked like the queue's subjects."""
    return mask_spans(text, [(s.start, s.end) for s in find_personal_data(text or "")])
