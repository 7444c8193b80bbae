"""Writes for the core app: tenants, people, teams, tokens, the audit log."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from .bulk import rows_insert
from .models import ApiToken, AuditEvent, Membership, Role, Team, Tenant
from .selectors import team_case_count, team_member_count


def audit_record(
    *, tenant: Tenant, actor: AbstractBaseUser | None, verb: str, obj: Model, data: dict[str, Any] | None = None
) -> AuditEvent:
    """Call inside the service's transaction so the audit row commits or rolls back with the change."""
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=actor if actor is not None and actor.is_authenticated else None,
        verb=verb,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        data=data or {},
    )


def api_token_used(*, token: ApiToken) -> None:
    """When a token was last used, for the admin who wonders whether it can be revoked."""
    ApiToken.objects.filter(tenant_id=token.tenant_id, pk=token.pk).update(last_used_at=timezone.now())


def audit_record_many(*, tenant: Tenant, entries: list[tuple[str, Model, dict[str, Any]]]) -> int:
    """Many system events (no actor) in one statement: batch triage records one per mention it handled."""
    rows = [{"tenant_id": tenant.pk, "actor_id": None, "verb": verb, "object_type": obj._meta.label_lower,
             "object_id": str(obj.pk), "data": data} for verb, obj, data in entries]
    return len(rows_insert(AuditEvent, rows, returning=["id"]))


@transaction.atomic
def tenant_create(*, slug: str, name: str, time_zone: str = "America/Sao_Paulo", locale: str = "pt-br") -> Tenant:
    tenant = Tenant.objects.create(slug=slug, name=name, time_zone=time_zone, locale=locale)
    audit_record(tenant=tenant, actor=None, verb="tenant.created", obj=tenant, data={"slug": slug})
    return tenant


@transaction.atomic
def membership_ensure(
    *, tenant: Tenant, username: str, role: str, password: str | None = None, teams: list[Team] | None = None,
    first_name: str = "", email: str = "",
) -> Membership:
    """Create the user and membership if missing (idempotent: the demo seed calls it on every run)."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username, defaults={"first_name": first_name, "email": email}
    )
    if created and password:
        user.set_password(password)
        user.save(update_fields=["password"])
    membership, m_created = Membership.objects.get_or_create(
        tenant=tenant, user=user, defaults={"role": Role(role)}
    )
    if teams:
        membership.teams.add(*teams)
    if m_created:
        audit_record(tenant=tenant, actor=None, verb="membership.created", obj=membership, data={"role": role})
    return membership


@transaction.atomic
def api_token_create(*, membership: Membership, name: str) -> tuple[ApiToken, str]:
    """Returns the token row and the secret, which is shown once and never stored."""
    secret = ApiToken.new_secret()
    token = ApiToken.objects.create(
        tenant=membership.tenant, membership=membership, name=name,
        digest=ApiToken.digest_of(secret), prefix=secret[:12],
    )
    audit_record(tenant=membership.tenant, actor=membership.user, verb="api_token.created", obj=token)
    return token, secret


# ---------------------------------------------------------------- people and teams (the Team page, sac.team_views)

# What the inbox compares Membership.languages with: Case.language, which triage sets to what
# inbox.triage.pipeline.detect_language returns ("und" when it could not tell). Claim-next hands a case of
# another language only to agents with no language skill, so "und" is a skill of its own.
MEMBER_LANGUAGES = ("pt", "en", "es", "und")
# ChannelAccount.platform values (channels_ingest.models.Platform; sac imports no app, so they are repeated here
# and tests/sac/test_team_services.py checks the two lists agree).
MEMBER_PLATFORMS = ("x", "facebook", "instagram", "simulator")
MAX_OPEN_CASES_MIN, MAX_OPEN_CASES_MAX = 1, 200


class TeamConfigError(Exception):
    """A change the Team page refuses; the message is for the admin, in the page's language."""


def _admins_left(tenant: Tenant) -> list[int]:
    """The tenant's active admin memberships, locked: two admins demoting each other at the same moment would
    otherwise both see the other still there and leave the brand with nobody to manage it."""
    return list(
        Membership.objects.select_for_update()
        .filter(tenant=tenant, role=Role.ADMIN, is_active=True)
        .order_by("pk")  # one lock order for every caller: no deadlock between two such changes
        .values_list("pk", flat=True)
    )


@transaction.atomic
def membership_update(
    *, tenant: Tenant, actor: Membership, member: Membership, role: str, teams: list[Team], languages: list[str],
    platforms: list[str], max_open_cases: int, is_active: bool,
) -> Membership:
    """Set a member's role, teams, skills, cap and whether they are active. Refuses a change that would leave the
    brand without an active admin (the last admin demoting or deactivating themselves)."""
    if role not in Role.values:
        raise TeamConfigError(_("Unknown role."))
    if not MAX_OPEN_CASES_MIN <= max_open_cases <= MAX_OPEN_CASES_MAX:
        raise TeamConfigError(_("The open-case cap must be between %(min)s and %(max)s.")
                              % {"min": MAX_OPEN_CASES_MIN, "max": MAX_OPEN_CASES_MAX})
    if set(languages) - set(MEMBER_LANGUAGES) or set(platforms) - set(MEMBER_PLATFORMS):
        raise TeamConfigError(_("Unknown language or network."))
    team_ids = {team.pk for team in teams}
    # The link table has no tenant column: only this tenant's teams may ever be linked (claim-next trusts that).
    if Team.objects.filter(tenant=tenant, pk__in=team_ids).count() != len(team_ids):
        raise TeamConfigError(_("That team does not belong to this brand."))
    admins = _admins_left(tenant)
    # Locked (and re-read) after the admins, in the same order as every other caller.
    member = Membership.objects.select_for_update().select_related("user").get(tenant=tenant, pk=member.pk)
    stays_admin = role == Role.ADMIN and is_active
    if member.pk in admins and not stays_admin and len(admins) == 1:
        raise TeamConfigError(_("%(user)s is the brand's last admin: make someone else admin first.")
                              % {"user": member.user.get_username()})
    before = {"role": member.role, "languages": list(member.languages or []),
              "platforms": list(member.platforms or []), "max_open_cases": member.max_open_cases,
              "is_active": member.is_active,
              "teams": sorted(member.teams.filter(tenant=tenant).values_list("name", flat=True))}
    after = {"role": str(role), "languages": [c for c in MEMBER_LANGUAGES if c in languages],
             "platforms": [c for c in MEMBER_PLATFORMS if c in platforms], "max_open_cases": int(max_open_cases),
             "is_active": bool(is_active), "teams": sorted(team.name for team in teams)}
    member.role, member.languages, member.platforms = after["role"], after["languages"], after["platforms"]
    member.max_open_cases, member.is_active = after["max_open_cases"], after["is_active"]
    member.save(update_fields=["role", "languages", "platforms", "max_open_cases", "is_active"])
    member.teams.set(Team.objects.filter(tenant=tenant, pk__in=team_ids))
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        audit_record(tenant=tenant, actor=actor.user, verb="membership.updated", obj=member,
                     data={"user": member.user.get_username(), "changes": changes})
    return member


def _team_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise TeamConfigError(_("A team needs a name."))
    if len(name) > Team._meta.get_field("name").max_length:
        raise TeamConfigError(_("That name is too long."))
    return name


def _name_taken() -> TeamConfigError:
    return TeamConfigError(_("There is already a team with that name."))


def team_create(*, tenant: Tenant, actor: Membership, name: str, auto_assign: bool = False) -> Team:
    name = _team_name(name)
    try:
        with transaction.atomic():
            team = Team.objects.create(tenant=tenant, name=name, auto_assign=auto_assign)
            audit_record(tenant=tenant, actor=actor.user, verb="team.created", obj=team,
                         data={"name": name, "auto_assign": auto_assign})
    except IntegrityError:  # team_unique_name: two admins adding the same name at once lands here too
        raise _name_taken() from None
    return team


def team_update(*, tenant: Tenant, actor: Membership, team: Team, name: str, auto_assign: bool) -> Team:
    """Rename a team and switch its round-robin. Auto-assign applies to cases routed to the team from now on."""
    name = _team_name(name)
    try:
        with transaction.atomic():
            before = Team.objects.select_for_update().get(tenant=tenant, pk=team.pk)
            changes = {key: [old, new] for key, old, new in (("name", before.name, name),
                                                               ("auto_assign", before.auto_assign, auto_assign))
                       if old != new}
            Team.objects.filter(tenant=tenant, pk=team.pk).update(name=name, auto_assign=auto_assign)
            team.name, team.auto_assign = name, auto_assign
            if changes:
                audit_record(tenant=tenant, actor=actor.user, verb="team.updated", obj=team, data={"changes": changes})
    except IntegrityError:
        raise _name_taken() from None
    return team


@transaction.atomic
def team_delete(*, tenant: Tenant, actor: Membership, team: Team) -> int:
    """Delete a team. Its cases keep no team (the foreign key is SET_NULL): open ones go back to the general
    queue, which everyone may take from; routing rules that sent cases to it then leave them there too; its
    members keep their other teams. Returns how many cases lost the team."""
    team = Team.objects.select_for_update().get(tenant=tenant, pk=team.pk)
    cases, members = team_case_count(tenant, team), team_member_count(tenant, team)
    # Written first: after delete() the team has no pk for the audit row to name.
    audit_record(tenant=tenant, actor=actor.user, verb="team.deleted", obj=team,
                 data={"name": team.name, "cases": cases, "members": members})
    # Django's collector sets team_id to NULL on the cases, routing rules and survey follow-ups that point here
    # (by this team's id, which only this tenant's rows can hold) and removes the membership links.
    team.delete()
    return cases
