"""Panel slots: a page of one app offers a slot, apps above it register panels into it from their
AppConfig.ready(), so the page's app never imports them (DESIGN.md: one-way dependencies)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    # context(request, *page_args) -> template context, or None to hide the panel on this page.
    context: Callable[..., dict[str, Any] | None]
    order: int = 100


class PanelSlot:
    def __init__(self) -> None:
        self._panels: dict[str, Panel] = {}

    def register(self, panel: Panel) -> None:
        self._panels[panel.name] = panel

    def render(self, request: HttpRequest, *args: Any, base: dict[str, Any] | None = None) -> list[SafeString]:
        rendered = []
        for panel in sorted(self._panels.values(), key=lambda p: (p.order, p.name)):
            context = panel.context(request, *args)
            if context is not None:
                html = render_to_string(panel.template, {**(base or {}), **context}, request=request)
                rendered.append(mark_safe(html))  # noqa: S308  (rendered by Django's autoescaping templates)
        return rendered
