"""The notifications' texts, by key: stored as a key and its values, rendered in the reader's language."""

from typing import Any

from django.utils.translation import gettext, gettext_noop

# The English originals (marked for makemessages); rendering translates them at read time.
MESSAGES = {
    "note_mention": gettext_noop("%(who)s mentioned you on case %(protocol)s: %(excerpt)s"),
}


def render_notification(key: str, params: dict[str, Any]) -> str:
    """The message in the active language, or "" for an unknown key (the caller falls back to the stored text)."""
    template = MESSAGES.get(key)
    if template is None or not isinstance(params, dict):
        return ""
    try:
        return gettext(template) % params
    except (KeyError, TypeError, ValueError):
        return ""  # a row whose values do not fit the message: show the stored English text instead


def english(key: str, params: dict[str, Any]) -> str:
    """The English text stored beside the key (what old readers and exports show)."""
    return MESSAGES[key] % params
