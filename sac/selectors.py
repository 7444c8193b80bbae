"""Reads for the core app. Every function that returns tenant data takes the tenant."""

from collections.abc import Sequence
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from .backends import MEMBERSHIPS_ATTR
from .models import AuditEvent, Invitation, Membership, Role, Team, Tenant


def memberships_for_user(user: AbstractBaseUser) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user, is_active=True)
        .select_related("tenant")
        .order_by("tenant__name")
    )


def user_memberships(user: AbstractBaseUser) -> Sequence[Membership]:
    """memberships_for_user: the list sac.backends read with the session's user (a snapshot taken when the request
    began), or else the queryset itself, which runs only when something reads it."""
    found = getattr(user, MEMBERSHIPS_ATTR, None)
    return found if found is not None else memberships_for_user(user)


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


class TeamChoice(NamedTuple):
    pk: int
    name: str


class TransferChoices(NamedTuple):
    members: list[MemberChoice]  # active ones, by username
    teams: list[TeamChoice]  # by name


def transfer_choices(tenant: Tenant) -> TransferChoices:
    """The tenant's active members and its teams for a "to whom" menu (transfer a case): ids, usernames, role
    names and team names only, in one statement. The case page shows the menus to whoever may work the case,
    and building a Membership and its User (every column, password hash included) for each of a hundred members
    was the biggest part of that page's cost; compiling two querysets for two lists of names was the next."""
    user = get_user_model()
    username = user._meta.get_field(user.USERNAME_FIELD).column
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 'member', m.id, u.{connection.ops.quote_name(username)}, m.role "
            f"FROM {Membership._meta.db_table} m JOIN {user._meta.db_table} u ON u.id = m.user_id "
            "WHERE m.tenant_id = %s AND m.is_active "
            f"UNION ALL SELECT 'team', t.id, t.name, '' FROM {Team._meta.db_table} t WHERE t.tenant_id = %s "
            "ORDER BY 1, 3",
            [tenant.pk, tenant.pk],
        )
        rows = cursor.fetchall()
    labels = {value: str(label) for value, label in Role.choices}  # in the request's language, once
    return TransferChoices(
        members=[MemberChoice(pk, name, labels.get(role, role)) for kind, pk, name, role in rows if kind == "member"],
        teams=[TeamChoice(pk, name) for kind, pk, name, _role in rows if kind == "team"],
    )


def access_member(tenant: Tenant, membership_id: int, *, inactive_too: bool = False) -> Membership:
    """One of the tenant's members (another tenant's id: 404); an inactive one only with `inactive_too` (the Team
    page edits those too; a transfer or a reassignment never goes to them)."""
    members = Membership.objects.select_related("user").filter(tenant=tenant, pk=membership_id)
    try:
        return (members if inactive_too else members.filter(is_active=True)).get()
    except Membership.DoesNotExist:
        raise Http404("No such member.") from None


def access_team(tenant: Tenant, team_id: int) -> Team:
    try:
        return Team.objects.get(tenant=tenant, pk=team_id)
    except Team.DoesNotExist:
        raise Http404("No such team.") from None


def teams_of(tenant: Tenant) -> QuerySet[Team]:
    return Team.objects.filter(tenant=tenant).order_by("name")


# ---------------------------------------------------------------- the Team page (sac.team_views)

def members_for_admin(tenant: Tenant) -> QuerySet[Membership]:
    """Every member, inactive ones too (an admin re-activates them here), with their teams of this tenant."""
    return (
        Membership.objects.filter(tenant=tenant)
        .select_related("user")
        .prefetch_related(Prefetch("teams", queryset=Team.objects.filter(tenant=tenant).order_by("name")))
        .order_by("-is_active", "user__username")
    )


def teams_with_member_counts(tenant: Tenant) -> QuerySet[Team]:
    """The tenant's teams by name, each with `member_count`: its active members."""
    return teams_of(tenant).annotate(
        member_count=Count("members", filter=Q(members__tenant=tenant, members__is_active=True), distinct=True)
    )


def team_case_count(tenant: Tenant, team: Team) -> int:
    """Cases filed under the team, any status (through Team's reverse relation: sac imports no app)."""
    return team.cases.filter(tenant=tenant).count()


def team_member_count(tenant: Tenant, team: Team) -> int:
    return team.members.filter(tenant=tenant).count()


# ---------------------------------------------------------------- invitations (the Team page, /invite/<token>/)

def invitations_open(tenant: Tenant) -> QuerySet[Invitation]:
    """Invitations neither accepted nor revoked (expired ones too: Resend renews them), newest first."""
    return (
        Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
        .prefetch_related(Prefetch("teams", queryset=Team.objects.filter(tenant=tenant).order_by("name")))
        .order_by("-sent_at", "-pk")
    )


def access_invitation(tenant: Tenant, invitation_id: int) -> Invitation:
    try:
        return Invitation.objects.get(tenant=tenant, pk=invitation_id)
    except Invitation.DoesNotExist:
        raise Http404("No such invitation.") from None


def invitation_by_token(token: str, *, for_update: bool = False) -> Invitation | None:
    """The accept page's lookup, by the digest of the link's token alone. The one read here without a tenant: the
    page is opened by someone who is not a member yet, and the token names exactly one invitation of one tenant
    (the membership it grants is always in `invitation.tenant`). `for_update`: the invitation row locked (in the
    caller's transaction), for the service that accepts it."""
    if not token or len(token) > 100:
        return None
    found = Invitation.objects.select_related("tenant", "invited_by")
    if for_update:
        found = found.select_for_update(of=("self",))
    return found.filter(token_digest=Invitation.digest_of(token)).first()


def accounts_for_email(email: str) -> QuerySet[AbstractBaseUser]:
    """Accounts an invited address already names: as their e-mail, or as their username (invited people's accounts
    are made with the address as username). Users are global: one person may be in several brands."""
    return get_user_model().objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).order_by("pk")


def member_with_email(tenant: Tenant, email: str) -> Membership | None:
    """The tenant's membership (active or not) of an account with this address, if any."""
    return (Membership.objects.filter(tenant=tenant)
            .filter(Q(user__email__iexact=email) | Q(user__username__iexact=email))
            .select_related("user").first())
