"""Writes for the core app: tenants, people, teams, tokens, the audit log."""

import logging
import smtplib
import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .bulk import rows_insert
from .models import ApiToken, AuditEvent, Invitation, Membership, Role, Team, Tenant
from .selectors import accounts_for_email, invitation_by_token, member_with_email, team_case_count, team_member_count

log = logging.getLogger(__name__)


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


def _member_fields_check(*, tenant: Tenant, role: str, teams: list[Team], languages: list[str],
                         platforms: list[str]) -> set[int]:
    """Refuse a role, skill or team a membership cannot have (membership_update, invitation_create); returns the
    team ids."""
    if role not in Role.values:
        raise TeamConfigError(_("Unknown role."))
    if set(languages) - set(MEMBER_LANGUAGES) or set(platforms) - set(MEMBER_PLATFORMS):
        raise TeamConfigError(_("Unknown language or network."))
    team_ids = {team.pk for team in teams}
    # The link table has no tenant column: only this tenant's teams may ever be linked (claim-next trusts that).
    if Team.objects.filter(tenant=tenant, pk__in=team_ids).count() != len(team_ids):
        raise TeamConfigError(_("That team does not belong to this brand."))
    return team_ids


@transaction.atomic
def membership_update(
    *, tenant: Tenant, actor: Membership, member: Membership, role: str, teams: list[Team], languages: list[str],
    platforms: list[str], max_open_cases: int, is_active: bool,
) -> Membership:
    """Set a member's role, teams, skills, cap and whether they are active. Refuses a change that would leave the
    brand without an active admin (the last admin demoting or deactivating themselves)."""
    if not MAX_OPEN_CASES_MIN <= max_open_cases <= MAX_OPEN_CASES_MAX:
        raise TeamConfigError(_("The open-case cap must be between %(min)s and %(max)s.")
                              % {"min": MAX_OPEN_CASES_MIN, "max": MAX_OPEN_CASES_MAX})
    team_ids = _member_fields_check(tenant=tenant, role=role, teams=teams, languages=languages, platforms=platforms)
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


# ---------------------------------------------------------------- invitations (the Team page, /invite/<token>/)

INVITATION_DAYS = 7
# The invitation e-mails one brand may send an hour (new ones and resends), and how soon one may be sent again: an
# admin account that is misused (or a script gone wrong) must not make SAC a mail cannon, whose spam complaints
# would put the installation's sending domain on blocklists, for every brand.
INVITATION_EMAILS_PER_HOUR = 30
INVITATION_RESEND_AFTER = timedelta(minutes=1)


class InvitationUnusable(Exception):
    """The link cannot be used. `reason`: "invalid" (unknown, mangled, or replaced by a resend), "expired",
    "revoked" or "used"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvitationAccountExists(Exception):
    """A new account was asked for an address that already has one: that person signs in instead."""


class InvitationWrongAccount(Exception):
    """The signed-in account is not the invited address's: the link would otherwise let anyone holding a
    forwarded e-mail join with any account."""


def invitation_link(token: str) -> str:
    return settings.SAC_PUBLIC_BASE_URL.rstrip("/") + reverse("invitation_accept", args=[token])


def _invitation_email_queue(*, invitation: Invitation, token: str, inviter: AbstractBaseUser) -> None:
    """Build the e-mail now, in the invitation's language and the brand's time zone, and send it once the
    transaction commits: a rolled-back invitation sends nothing, and the token exists only in this e-mail."""
    tenant = invitation.tenant
    with translation.override(invitation.language), timezone.override(zoneinfo.ZoneInfo(tenant.time_zone)):
        context = {"invitation": invitation, "brand": tenant.name, "link": invitation_link(token),
                   "inviter": inviter.get_full_name() or inviter.get_username(),
                   "role": Role(invitation.role).label, "days": INVITATION_DAYS}
        subject = _("%(inviter)s invited you to %(brand)s on SAC") % {"inviter": context["inviter"],
                                                                      "brand": tenant.name}
        body = render_to_string("sac/invitation_email.txt", context)
    transaction.on_commit(lambda: _invitation_email_send(invitation, subject, body))


def _invitation_email_send(invitation: Invitation, subject: str, body: str) -> None:
    """Send it, and record whether it went: a mail server that refuses or is down must not turn the admin's Invite
    into an error page for an invitation that is saved; the Team page shows the reason next to Resend."""
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email], fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("invitation %s of tenant %s: the e-mail to %s could not be sent: %s", invitation.pk,
                    invitation.tenant_id, invitation.email, exc)
        error = f"{exc.__class__.__name__}: {exc}"[:500]
    else:
        error = ""
    Invitation.objects.filter(tenant_id=invitation.tenant_id, pk=invitation.pk).update(email_error=error)
    invitation.email_error = error


def _invited_address(email: str) -> str:
    """Lower-cased whole: it becomes the new person's username, and the login form compares usernames exactly."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise TeamConfigError(_("Enter a valid e-mail address.")) from None
    longest = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD).max_length or 150
    if len(email) > longest:  # it becomes the username, whose column is shorter than an address may be
        raise TeamConfigError(_("SAC takes e-mail addresses of up to %(count)s characters.") % {"count": longest})
    return email


def invitation_create(
    *, tenant: Tenant, actor: Membership, email: str, name: str, role: str, teams: list[Team],
    languages: list[str] | None = None, platforms: list[str] | None = None, language: str = "pt-br",
) -> tuple[Invitation, str]:
    """Invite someone to the brand with the role, teams and skills their membership will get, and e-mail them the
    link (valid INVITATION_DAYS days). Returns the invitation and the link's token, which is stored only as a
    digest. Refuses an address that is already a member, or that already has an open invitation here."""
    email = _invited_address(email)
    name = " ".join(name.split())[:Invitation._meta.get_field("name").max_length]
    languages, platforms = list(languages or []), list(platforms or [])
    team_ids = _member_fields_check(tenant=tenant, role=role, teams=teams, languages=languages, platforms=platforms)
    if language not in dict(settings.LANGUAGES):
        raise TeamConfigError(_("Unknown language."))
    member = member_with_email(tenant, email)
    if member is not None:
        if member.is_active:
            raise TeamConfigError(_("%(email)s is already a member of this brand (%(user)s).")
                                  % {"email": email, "user": member.user.get_username()})
        raise TeamConfigError(_("%(email)s is already a member of this brand (%(user)s), inactive: edit them in the "
                                "list above to let them back in.") % {"email": email,
                                                                      "user": member.user.get_username()})
    already = _("%(email)s already has a pending invitation: resend or revoke it in the list below.") % {
        "email": email}
    if Invitation.objects.filter(tenant=tenant, email=email, accepted_at__isnull=True,
                                 revoked_at__isnull=True).exists():
        raise TeamConfigError(already)
    token, now = Invitation.new_token(), timezone.now()
    try:
        with transaction.atomic():
            _invitation_emails_check(tenant, now)
            invitation = Invitation.objects.create(
                tenant=tenant, email=email, name=name, role=role,
                languages=[c for c in MEMBER_LANGUAGES if c in languages],
                platforms=[c for c in MEMBER_PLATFORMS if c in platforms], language=language,
                invited_by=actor.user, token_digest=Invitation.digest_of(token), sent_at=now,
                expires_at=now + timedelta(days=INVITATION_DAYS))
            chosen = list(Team.objects.filter(tenant=tenant, pk__in=team_ids).order_by("name"))
            invitation.teams.set(chosen)
            audit_record(tenant=tenant, actor=actor.user, verb="invitation.created", obj=invitation,
                         data={"email": email, "role": role, "teams": [t.name for t in chosen]})
            _invitation_email_queue(invitation=invitation, token=token, inviter=actor.user)
    except IntegrityError:  # invitation_one_open_per_email: two admins inviting the same address at once
        raise TeamConfigError(already) from None
    return invitation, token


def _invitation_emails_check(tenant: Tenant, now: datetime) -> None:
    """Refuse one more invitation e-mail when the brand sent INVITATION_EMAILS_PER_HOUR in the last hour (counted
    from the audit log, which records each one; the tenant's invitation rows by the audit index). Inside the
    transaction that records the e-mail, with the brand's row locked until it commits, so that requests at the same
    moment (a script) are counted one after the other and cannot all see room for one more."""
    Tenant.objects.select_for_update().filter(pk=tenant.pk).values_list("pk", flat=True).first()
    sent = AuditEvent.objects.filter(tenant=tenant, object_type=Invitation._meta.label_lower,
                                     verb__in=("invitation.created", "invitation.resent"),
                                     created_at__gt=now - timedelta(hours=1)).count()
    if sent >= INVITATION_EMAILS_PER_HOUR:
        raise TeamConfigError(_("This brand has sent %(count)s invitation e-mails in the last hour, as many as SAC "
                                "sends in an hour: try again later.") % {"count": sent})


def _invitation_open_locked(tenant: Tenant, invitation: Invitation) -> Invitation:
    found = (Invitation.objects.select_for_update().select_related("tenant")
             .filter(tenant=tenant, pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).first())
    if found is None:
        raise TeamConfigError(_("That invitation was already accepted or revoked."))
    return found


@transaction.atomic
def invitation_resend(*, tenant: Tenant, actor: Membership, invitation: Invitation) -> tuple[Invitation, str]:
    """A new link, valid INVITATION_DAYS days from now, e-mailed again; the earlier link stops working (its digest
    is replaced), so a lost or forwarded e-mail cannot be used any more."""
    found = _invitation_open_locked(tenant, invitation)
    token, now = Invitation.new_token(), timezone.now()
    if now - found.sent_at < INVITATION_RESEND_AFTER and not found.email_error and found.expires_at > now:
        raise TeamConfigError(_("An invitation was sent to %(email)s less than a minute ago: give it a moment to "
                                "arrive before sending another.") % {"email": found.email})
    _invitation_emails_check(tenant, now)
    found.token_digest, found.sent_at, found.expires_at = (Invitation.digest_of(token), now,
                                                            now + timedelta(days=INVITATION_DAYS))
    found.save(update_fields=["token_digest", "sent_at", "expires_at"])
    audit_record(tenant=tenant, actor=actor.user, verb="invitation.resent", obj=found,
                 data={"email": found.email, "expires_at": found.expires_at.isoformat()})
    _invitation_email_queue(invitation=found, token=token, inviter=actor.user)
    return found, token


@transaction.atomic
def invitation_revoke(*, tenant: Tenant, actor: Membership, invitation: Invitation) -> Invitation:
    found = _invitation_open_locked(tenant, invitation)
    found.revoked_at = timezone.now()
    found.save(update_fields=["revoked_at"])
    audit_record(tenant=tenant, actor=actor.user, verb="invitation.revoked", obj=found, data={"email": found.email})
    return found


def invitation_usable(invitation: Invitation | None) -> Invitation:
    """The invitation if its link may still be used; else InvitationUnusable with the reason the page shows."""
    if invitation is None:
        raise InvitationUnusable("invalid")
    state = invitation.state(timezone.now())
    if state != "pending":
        raise InvitationUnusable({"accepted": "used"}.get(state, state))
    return invitation


def _invitation_locked(token: str) -> Invitation:
    """Locked, so that two submits of the same link (a double click, two tabs) join once: the second waits, then
    finds it used. By the token alone (selectors.invitation_by_token): the token names one invitation of one
    tenant, and the membership is always made in that tenant."""
    return invitation_usable(invitation_by_token(token, for_update=True))


def invitation_account(invitation: Invitation, name: str) -> AbstractBaseUser:
    """The account an invited new person gets, unsaved: the invited address as username and e-mail, `name` split
    into first and last name. The accept page runs the password validators on it; the service saves it."""
    first, _sep, last = " ".join(name.split()).partition(" ")
    return get_user_model()(username=invitation.email, email=invitation.email, first_name=first[:150],
                            last_name=last[:150])


def _invitation_join(invitation: Invitation, user: AbstractBaseUser) -> Membership:
    """The membership the invitation describes, in the invitation's own tenant (whatever page the link was
    opened from); an existing membership is kept as it is (an admin may have changed it since)."""
    tenant = invitation.tenant
    membership, created = Membership.objects.get_or_create(
        tenant=tenant, user=user,
        defaults={"role": invitation.role, "languages": invitation.languages, "platforms": invitation.platforms})
    if created:
        teams = list(Team.objects.filter(tenant=tenant, invitations=invitation).order_by("name"))
        membership.teams.set(teams)
        audit_record(tenant=tenant, actor=user, verb="membership.created", obj=membership,
                     data={"user": user.get_username(), "role": invitation.role, "teams": [t.name for t in teams],
                           "invitation": invitation.pk})
    now = timezone.now()
    Invitation.objects.filter(tenant=tenant, pk=invitation.pk).update(accepted_at=now, membership=membership)
    invitation.accepted_at, invitation.membership = now, membership
    audit_record(tenant=tenant, actor=user, verb="invitation.accepted", obj=invitation,
                 data={"email": invitation.email, "user": user.get_username(), "new_membership": created})
    return membership


def invitation_accept_new_account(*, token: str, name: str, password: str) -> Membership:
    """A new person: an account whose username is the invited address, with this password (the accept form ran
    Django's password validators on it), and the membership."""
    with transaction.atomic():
        invitation = _invitation_locked(token)
        if accounts_for_email(invitation.email).exists():
            raise InvitationAccountExists
        user = invitation_account(invitation, name)
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # the same address signed up a moment ago (another invitation's link)
            raise InvitationAccountExists from None
        return _invitation_join(invitation, user)


def invitation_accept(*, token: str, user: AbstractBaseUser) -> Membership:
    """Someone with an account (signed in as the invited address) joins the brand."""
    with transaction.atomic():
        invitation = _invitation_locked(token)
        if not accounts_for_email(invitation.email).filter(pk=user.pk).exists():
            raise InvitationWrongAccount
        return _invitation_join(invitation, user)
