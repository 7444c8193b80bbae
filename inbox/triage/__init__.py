"""Triage: pure functions from a mention's text and author figures to a decision.

The foundation ships a rule-based baseline (rules.py); the classifier issue (#4)
replaces it behind the same `triage()` entry point and `TriageDecision` type.
"""

from .rules import TriageDecision, TriageInput, triage

__all__ = ["TriageDecision", "TriageInput", "triage"]
