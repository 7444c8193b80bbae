"""Reads for the core app. Every function that returns tenant data takes the tenant."""

from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from .models import AuditEvent, Membership, Role, Team, Tenant


def memberships_for_user(user: AbstractBaseUser) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user, is_active=True)
        .select_related("tenant")
        .order_by("tenant__name")
    )


def access_membership_by_slug(user: AbstractBaseUser, slug: str) -> Membership:
    """The user's membership in the tenant with this slug; a tenant they are not in is a 404."""
    try:
        return memberships_for_user(user).get(tenant__slug=slug)
    except Membership.DoesNotExist:
        raise Http404("No such tenant.") from None


def audit_events_for(tenant: Tenant, *, object_type: str, object_id: str) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(tenant=tenant, object_type=object_type, object_id=object_id).select_related(
        "actor"
    )


def members_of(tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant, is_active=True).select_related("user").order_by("user__username")


class MemberChoice(NamedTuple):
    pk: int
    username: str
    role_label: str


def member_choices(tenant: Tenant) -> list[MemberChoice]:
    """The tenant's active members for a "to whom" menu (transfer a case): ids, usernames and role names only.
    The case page shows the menu to whoever may work the case, and building a Membership and its User (every
    column, password hash included) for each of a hundred members was the biggest part of that page's cost."""
    labels = {value: str(label) for value, label in Role.choices}  # in the request's language, once
    username = f"user__{get_user_model().USERNAME_FIELD}"
    rows = (Membership.objects.filter(tenant=tenant, is_active=True).order_by(username)
            .values_list("pk", username, "role"))
    return [MemberChoice(pk, name, labels.get(role, role)) for pk, name, role in rows]


def access_member(tenant: Tenant, membership_id: int) -> Membership:
    try:
        return Membership.objects.select_related("user").get(tenant=tenant, pk=membership_id, is_active=True)
    except Membership.DoesNotExist:
        raise Http404("No such member.") from None


def access_team(tenant: Tenant, team_id: int) -> Team:
    try:
        return Team.objects.get(tenant=tenant, pk=team_id)
    except Team.DoesNotExist:
        raise Http404("No such team.") from None


def teams_of(tenant: Tenant) -> QuerySet[Team]:
    return Team.objects.filter(tenant=tenant).order_by("name")
