"""Filters for the channel pages: stored English texts in the reader's language (see channels_ingest.texts)."""

from django import template

from channels_ingest.texts import source_label, stored_text

register = template.Library()


@register.filter
def channel_text(text: str) -> str:
    return stored_text(text or "")


@register.filter
def channel_source(source: str) -> str:
    return source_label(source)
