"""Canned-reply variables filled by apps above the inbox (sla registers `{{case.promise}}`), so the inbox never
imports them (DESIGN.md: one-way dependencies). Apps register from their AppConfig.ready()."""

from collections.abc import Callable
from typing import Any

# name ("case.promise") → render(case) → text; an empty text leaves the variable visible, like an unset contact.
_RENDERERS: dict[str, Callable[[Any], str]] = {}


def register_canned_variable(name: str, render: Callable[[Any], str]) -> None:
    _RENDERERS[name] = render


def registered_canned_variables() -> dict[str, Callable[[Any], str]]:
    return dict(_RENDERERS)
