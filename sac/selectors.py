"""Reads for the core app. Every function that returns tenant data takes the tenant."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from .models import AuditEvent, Membership, Team, Tenant


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
