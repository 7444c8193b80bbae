"""In-product notifications: a colleague @mentioned in an internal note sees it under the bell."""

import re

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sac.models import Membership, Tenant

from ..models import Note, Notification
from ..notification_texts import english

# Django usernames are letters, digits and @.+-_ ; an e-mail address ("ana@acme.com") is not a mention,
# hence the look-behind. A trailing full stop ends the sentence, not the name.
_MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]{1,150})")


def mentioned_handles(text: str) -> list[str]:
    """The @handles in a note, in order, without duplicates (case-insensitive)."""
    seen: dict[str, str] = {}
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".")
        if handle and handle.lower() not in seen:
            seen[handle.lower()] = handle
    return list(seen.values())


def mentioned_members(tenant: Tenant, text: str) -> list[Membership]:
    """Active members of this tenant named in the text. Unknown handles, and people of other brands,
    are not found here: they stay plain text."""
    handles = mentioned_handles(text)
    if not handles:
        return []
    named = Q()
    for handle in handles:
        named |= Q(user__username__iexact=handle)
    members = Membership.objects.filter(named, tenant=tenant, is_active=True).select_related("user")
    by_name = {m.user.get_username().lower(): m for m in members}
    return [by_name[h.lower()] for h in handles if h.lower() in by_name]


def notes_notify_mentions(*, tenant: Tenant, note: Note, actor: AbstractBaseUser) -> list[Notification]:
    """Call inside the transaction that stores the note: the notifications commit or roll back with it."""
    excerpt = note.text if len(note.text) <= 200 else note.text[:199] + "…"
    who = actor.get_username()
    created = []
    for member in mentioned_members(tenant, note.text):
        if member.user_id == actor.pk:
            continue  # writing your own name is not news to you
        params = {"who": who, "protocol": note.case.protocol, "excerpt": excerpt}
        created.append(Notification(
            tenant=tenant, recipient_id=member.user_id, actor=actor, case_id=note.case_id, note=note,
            message_key="note_mention", params=params, text=english("note_mention", params)[:300],
        ))
    return Notification.objects.bulk_create(created)


def notification_mark_read(*, tenant: Tenant, user: AbstractBaseUser, notification: Notification) -> None:
    # Conditional: marking twice keeps the first reading time.
    Notification.objects.filter(tenant=tenant, recipient=user, pk=notification.pk, read_at__isnull=True).update(
        read_at=timezone.now())


def notifications_mark_all_read(*, tenant: Tenant, user: AbstractBaseUser) -> int:
    with transaction.atomic():
        return Notification.objects.filter(tenant=tenant, recipient=user, read_at__isnull=True).update(
            read_at=timezone.now())
