"""Kept apart from sac.api: DRF imports the default paginator while loading its generic views."""

from typing import Any

from django.db.models import Model, QuerySet
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class ViewOrderedCursorPagination(CursorPagination):
    """Cursor pagination (stable under inserts) ordered by the viewset's `ordering` attribute."""

    ordering = "-pk"

    def get_ordering(self, request: Request, queryset: QuerySet[Model], view: Any) -> tuple[str, ...]:
        ordering = getattr(view, "ordering", self.ordering)
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)
