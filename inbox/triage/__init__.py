"""Triage: pure functions from a mention's text, author figures and the tenant's configuration to a decision.

See docs/triage.md. `triage(TriageInput, TriageConfig) -> TriageDecision` is the one entry point,
used by ingest (inbox.services.mentions_triage), the API and `manage.py triage`.
"""

from .model import LinearModel
from .pii import CustomPattern, PersonalDataSpan, compile_custom, find_personal_data
from .pipeline import CATEGORIES, DEFAULT_CONFIG, TriageConfig, TriageDecision, TriageInput, triage
from .routing import RouteRule

__all__ = ["CATEGORIES", "DEFAULT_CONFIG", "CustomPattern", "LinearModel", "PersonalDataSpan", "RouteRule",
           "TriageConfig", "TriageDecision", "TriageInput", "compile_custom", "find_personal_data", "triage"]
