"""Every write of the surveys app: configuration, invitations (schedule, send once), answers,
follow-ups and the deflection figures."""

import csv
import io
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_ingest.connectors import connector_for
from channels_ingest.errors import DeliveryUnknown, PermanentError, TransientError
from channels_ingest.types import OutboundMessage
from inbox.models import Case
from sac.models import Membership, Role, Tenant
from sac.services import audit_record

from .models import DEFAULT_WORDING, DeflectionDay, FollowUp, SurveyConfig, SurveyInvitation, SurveyResponse
from .signals import survey_answered

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 6
# Starts the error of a send whose outcome is unknown (the message may have reached the customer).
DELIVERY_UNKNOWN = "Delivery unknown:"
# After a send ended in doubt, how long to wait before looking for it (the network may list it late).
OUTCOME_CHECK_DELAY_SECONDS = 20
# The token at the end of a survey link (survey_link), as secrets.token_urlsafe writes it.
SURVEY_TOKEN_RE = re.compile(r"/s/([A-Za-z0-9_-]{20,100})")
# A send taking longer than this is treated as a dead worker: failed for a human, never resent blindly.
STUCK_SENDING = timedelta(minutes=5)


class SurveyError(Exception):
    """A user-facing refusal: the message is shown as it is."""


def survey_language(case: Case) -> str:
    """The customer's language as triage saw it; the brand's locale when triage could not tell."""
    lang = (case.language or case.tenant.locale or "pt").lower()
    return "en" if lang.startswith("en") else "pt"


# ---------------------------------------------------------------- configuration

CONFIG_FIELDS = (
    "enabled", "ask_csat", "ask_nps", "invitation_pt", "invitation_en", "csat_question_pt", "csat_question_en",
    "nps_question_pt", "nps_question_en", "delay_minutes", "quiet_days", "expiry_days", "currency",
    "cost_per_call", "cost_per_social",
)


def survey_config_ensure(*, tenant: Tenant, **values: Any) -> SurveyConfig:
    """Create the tenant's survey configuration if missing (idempotent; the demo seed calls it on every run)."""
    with transaction.atomic():
        config, created = SurveyConfig.objects.get_or_create(tenant=tenant, defaults=values)
        if created:
            audit_record(tenant=tenant, actor=None, verb="survey_config.created", obj=config)
    return config


def survey_config_save(*, tenant: Tenant, membership: Membership, values: dict[str, Any]) -> SurveyConfig:
    if not membership.has_role(Role.ADMIN):
        raise SurveyError(_("Only tenant admins change the survey settings."))
    if not values.get("ask_csat") and not values.get("ask_nps"):
        raise SurveyError(_("Ask at least one question: CSAT, NPS or both."))
    for key in ("invitation_pt", "invitation_en"):
        if "{link}" not in values.get(key, "{link}"):
            raise SurveyError(_("The invitation text must contain {link}, where the survey link goes."))
    unknown = set(values) - set(CONFIG_FIELDS)
    if unknown:
        raise SurveyError(_("Unknown settings: %(names)s") % {"names": ", ".join(sorted(unknown))})
    with transaction.atomic():
        config, _created = SurveyConfig.objects.select_for_update().get_or_create(tenant=tenant)
        SurveyConfig.objects.filter(tenant=tenant, pk=config.pk).update(**values, updated_at=timezone.now())
        config.refresh_from_db()
        audit_record(tenant=tenant, actor=membership.user, verb="survey_config.updated", obj=config,
                     data={k: str(v) for k, v in values.items() if not k.startswith(("invitation", "csat_q", "nps_q"))})
    return config


# ---------------------------------------------------------------- invitations

def survey_invitation_schedule(*, case: Case) -> SurveyInvitation | None:
    """Called inside the transaction that resolves the case, so the row commits with the resolution
    (a broker restart cannot lose it). The send itself is queued on commit; the sweep is the safety net."""
    tenant = case.tenant
    config = SurveyConfig.objects.filter(tenant=tenant, enabled=True).first()
    if config is None or not (config.ask_csat or config.ask_nps):
        return None
    if SurveyInvitation.objects.filter(tenant=tenant, case=case).exists():
        return None  # reopened and resolved again: one survey per case
    now = timezone.now()
    skip = ""
    if case.customer is None:
        skip = "the customer is unknown on this network: no private channel"
    elif SurveyInvitation.objects.filter(
        tenant=tenant, customer=case.customer, created_at__gte=now - timedelta(days=config.quiet_days),
    ).exclude(state=SurveyInvitation.State.SKIPPED).exists():
        skip = f"surveyed in the last {config.quiet_days} days"
    invitation = SurveyInvitation.objects.create(
        tenant=tenant, case=case, channel=case.channel, customer=case.customer, language=survey_language(case),
        ask_csat=config.ask_csat, ask_nps=config.ask_nps,
        state=SurveyInvitation.State.SKIPPED if skip else SurveyInvitation.State.SCHEDULED, skip_reason=skip,
        due_at=now + timedelta(minutes=config.delay_minutes),
        idempotency_key=f"t{tenant.pk}:survey:case{case.pk}",
    )
    audit_record(tenant=tenant, actor=None, verb="survey.skipped" if skip else "survey.scheduled", obj=case,
                 data={"invitation": invitation.pk, "due_at": invitation.due_at.isoformat(), "reason": skip})
    if not skip:
        from . import tasks

        # Only a short wait rides on the broker: a countdown longer than its visibility timeout would be
        # delivered twice (harmless, the send is conditional) and a restart would drop it; the sweep covers both.
        if config.delay_minutes <= 10:
            countdown = config.delay_minutes * 60
            transaction.on_commit(lambda: tasks.survey_invitation_send.apply_async(
                (tenant.pk, invitation.pk), countdown=countdown))
    return invitation


def survey_link(token: str) -> str:
    return f"{settings.SAC_PUBLIC_BASE_URL.rstrip('/')}/s/{token}"


def _invitation_text(invitation: SurveyInvitation, config: SurveyConfig | None, token: str) -> str:
    key = f"invitation_{invitation.language}"
    template = getattr(config, key, None) or DEFAULT_WORDING[key]
    customer = invitation.customer
    name = (customer.first_name if customer else "") or ""
    values = {"name": name, "protocol": invitation.case.protocol, "brand": invitation.tenant.name,
              "link": survey_link(token)}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        # An admin typo in the wording must not stop the survey: fall back to a plain sentence with the link.
        return f"{invitation.case.protocol}: {values['link']}"


def survey_invitation_send(*, tenant_id: int, invitation_id: int) -> SurveyInvitation | None:
    """Send a due invitation once, privately. scheduled → sending → sent|failed, each a conditional update.

    Whoever moves the row out of `scheduled` owns the send: a task delivered twice, a late one or the
    sweep racing the task finds the row taken (or not yet due) and does nothing.
    """
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    taken = SurveyInvitation.objects.filter(
        tenant_id=tenant_id, pk=invitation_id, state=SurveyInvitation.State.SCHEDULED, due_at__lte=now,
    ).update(state=SurveyInvitation.State.SENDING, sending_started_at=now, attempts=F("attempts") + 1,
             token_digest=SurveyInvitation.digest_of(token))
    if not taken:
        return None
    invitation = SurveyInvitation.objects.select_related("case", "channel", "customer", "tenant").get(
        tenant_id=tenant_id, pk=invitation_id)
    config = SurveyConfig.objects.filter(tenant_id=tenant_id).first()
    message = OutboundMessage(visibility="private", text=_invitation_text(invitation, config, token),
                              recipient_external_id=invitation.customer.external_id if invitation.customer else "")
    connector: Any = None
    try:
        connector = connector_for(invitation.channel)
        external_id = connector.send(message)
    except TransientError as exc:
        give_up = invitation.attempts >= MAX_SEND_ATTEMPTS
        # Back to scheduled for the retry; the token of this attempt never reached anyone, so drop it.
        # A rate limit's reset moves the due time: neither the task nor the sweep sends before it.
        due_at = now + timedelta(seconds=exc.retry_after_seconds) if exc.retry_after_seconds else now
        SurveyInvitation.objects.filter(tenant_id=tenant_id, pk=invitation_id,
                                        state=SurveyInvitation.State.SENDING).update(
            state=SurveyInvitation.State.FAILED if give_up else SurveyInvitation.State.SCHEDULED,
            error=str(exc), token_digest=None, due_at=max(due_at, invitation.due_at))
        if give_up:
            _failed_audit(invitation, str(exc))
            return invitation
        raise
    except PermanentError as exc:
        # An unknown outcome keeps this attempt's token digest: if the message did go out, its link works.
        error = f"{DELIVERY_UNKNOWN} {exc}" if isinstance(exc, DeliveryUnknown) else str(exc)
        SurveyInvitation.objects.filter(tenant_id=tenant_id, pk=invitation_id,
                                        state=SurveyInvitation.State.SENDING).update(
            state=SurveyInvitation.State.FAILED, error=error)
        _failed_audit(invitation, error)
        if isinstance(exc, DeliveryUnknown) and getattr(connector, "find_sent", None) is not None:
            from . import tasks

            # Looking is safe (it sends nothing); a survey is never sent a second time on a guess.
            transaction.on_commit(lambda: tasks.survey_invitation_outcome_check.apply_async(
                (tenant_id, invitation_id), countdown=OUTCOME_CHECK_DELAY_SECONDS))
        invitation.refresh_from_db()
        return invitation
    _invitation_sent(invitation, config, external_id)
    invitation.refresh_from_db()
    return invitation


def _invitation_sent(invitation: SurveyInvitation, config: SurveyConfig | None, external_id: str) -> None:
    with transaction.atomic():
        sent_at = timezone.now()
        SurveyInvitation.objects.filter(tenant_id=invitation.tenant_id, pk=invitation.pk,
                                        state=SurveyInvitation.State.SENDING).update(
            state=SurveyInvitation.State.SENT, external_id=external_id[:64], sent_at=sent_at, error="",
            expires_at=sent_at + timedelta(days=config.expiry_days if config else 7))
        audit_record(tenant=invitation.tenant, actor=None, verb="survey.sent", obj=invitation.case,
                     data={"invitation": invitation.pk, "external_id": external_id})


def survey_invitation_outcome_check(*, tenant_id: int, invitation_id: int) -> SurveyInvitation | None:
    """Look for an invitation whose send ended in doubt; when the network has it, it is sent (and its link,
    whose digest was kept, works). Otherwise it stays failed: a survey is never sent twice on a guess.

    Each attempt carries a fresh link, so the message is recognised by its link's token digest, not its text.
    """
    taken = SurveyInvitation.objects.filter(tenant_id=tenant_id, pk=invitation_id,
                                            state=SurveyInvitation.State.FAILED, error__startswith=DELIVERY_UNKNOWN,
                                            token_digest__isnull=False).update(
        state=SurveyInvitation.State.SENDING, sending_started_at=timezone.now())
    if not taken:
        return None
    invitation = SurveyInvitation.objects.select_related("case", "channel", "customer", "tenant").get(
        tenant_id=tenant_id, pk=invitation_id)
    digest = invitation.token_digest

    def carries_our_link(text: str) -> bool:
        return any(SurveyInvitation.digest_of(token) == digest for token in SURVEY_TOKEN_RE.findall(text))

    message = OutboundMessage(visibility="private", text="",
                              recipient_external_id=invitation.customer.external_id if invitation.customer else "")
    external_id = None
    try:
        find_sent = getattr(connector_for(invitation.channel), "find_sent", None)
        if find_sent is not None:
            external_id = find_sent(message, since=invitation.created_at, matches=carries_our_link)
    except (TransientError, PermanentError):
        log.info("survey invitation %s: could not look for it on the network", invitation_id, exc_info=True)
    if not external_id:
        SurveyInvitation.objects.filter(tenant_id=tenant_id, pk=invitation_id,
                                        state=SurveyInvitation.State.SENDING).update(
            state=SurveyInvitation.State.FAILED)
        invitation.refresh_from_db()
        return invitation
    _invitation_sent(invitation, SurveyConfig.objects.filter(tenant_id=tenant_id).first(), external_id)
    invitation.refresh_from_db()
    return invitation


def _failed_audit(invitation: SurveyInvitation, error: str) -> None:
    audit_record(tenant=invitation.tenant, actor=None, verb="survey.failed", obj=invitation.case,
                 data={"invitation": invitation.pk, "error": error})


def survey_invitations_sweep(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """The database is the source of truth: return every due, unsent invitation for sending, and fail
    the ones a dead worker left in `sending` (the message may have left: a human checks, no resend)."""
    now = now or timezone.now()
    stuck = SurveyInvitation.objects.filter(state=SurveyInvitation.State.SENDING,
                                            sending_started_at__lt=now - STUCK_SENDING)
    for invitation in stuck.select_related("tenant", "case"):
        if SurveyInvitation.objects.filter(tenant=invitation.tenant, pk=invitation.pk,
                                           state=SurveyInvitation.State.SENDING).update(
            state=SurveyInvitation.State.FAILED, error=f"{DELIVERY_UNKNOWN} the worker stopped while sending."
        ):
            _failed_audit(invitation, "worker stopped while sending")
            from . import tasks

            # It may have gone out: look for it (looking sends nothing), never send it again on a guess.
            transaction.on_commit(lambda i=invitation: tasks.survey_invitation_outcome_check.delay(i.tenant_id, i.pk))
    return list(
        SurveyInvitation.objects.filter(state=SurveyInvitation.State.SCHEDULED, due_at__lte=now)
        .order_by("due_at").values_list("tenant_id", "pk")[:500]
    )


# ---------------------------------------------------------------- answers

class TokenInvalid(Exception):
    """No invitation has this token (mistyped, guessed or cut short): the page says so kindly."""


class TokenExpired(Exception):
    """The invitation exists but its link has expired."""


class AlreadyAnswered(Exception):
    """This invitation was answered already: the page says so instead of storing a second answer."""


def invitation_for_token(token: str) -> SurveyInvitation:
    """The public page's lookup: by the token's digest only. Raises TokenInvalid / TokenExpired."""
    if not token or len(token) > 100:
        raise TokenInvalid
    invitation = (
        SurveyInvitation.objects.select_related("tenant", "case", "customer")
        .filter(token_digest=SurveyInvitation.digest_of(token), state=SurveyInvitation.State.SENT).first()
    )
    if invitation is None:
        raise TokenInvalid
    if invitation.answered_at is None and invitation.expires_at and invitation.expires_at < timezone.now():
        raise TokenExpired
    return invitation


def survey_answer(*, token: str, csat: int | None, nps: int | None, comment: str = "") -> SurveyResponse:
    """Record the customer's answer once. A second submit raises AlreadyAnswered (no second row)."""
    invitation = invitation_for_token(token)
    if invitation.answered_at is not None:
        raise AlreadyAnswered
    if invitation.ask_csat and csat is None or invitation.ask_nps and nps is None:
        raise SurveyError("Please answer every question.")
    if csat is not None and not 1 <= csat <= 5 or nps is not None and not 0 <= nps <= 10:
        raise SurveyError("Please choose one of the scores shown.")
    tenant = invitation.tenant
    try:
        with transaction.atomic():
            # The conditional update is the once-only gate; the OneToOne on the response is the second lock.
            if not SurveyInvitation.objects.filter(tenant=tenant, pk=invitation.pk, answered_at__isnull=True).update(
                answered_at=timezone.now()
            ):
                raise AlreadyAnswered
            response = SurveyResponse.objects.create(
                tenant=tenant, invitation=invitation, case=invitation.case,
                csat=csat if invitation.ask_csat else None, nps=nps if invitation.ask_nps else None,
                comment=comment.strip()[:2000],
            )
            audit_record(tenant=tenant, actor=None, verb="survey.answered", obj=invitation.case,
                         data={"response": response.pk, "csat": response.csat, "nps": response.nps})
            if response.is_low:
                followup = FollowUp.objects.create(tenant=tenant, case=invitation.case, response=response,
                                                   team=invitation.case.team)
                audit_record(tenant=tenant, actor=None, verb="survey.followup_opened", obj=invitation.case,
                             data={"followup": followup.pk})
            # In the transaction, like inbox/events.py: what subscribers write (the CRM push row) commits or
            # rolls back with the answer; their side effects go through transaction.on_commit themselves.
            survey_answered.send(sender=SurveyResponse, tenant_id=tenant.pk, case_id=invitation.case_id,
                                 response_id=response.pk, csat=response.csat, nps=response.nps)
    except IntegrityError:
        raise AlreadyAnswered from None
    return response


def followup_close(*, tenant: Tenant, membership: Membership, followup: FollowUp, outcome: str) -> FollowUp:
    if not membership.has_role(Role.SUPERVISOR):
        raise SurveyError(_("Only supervisors close follow-ups."))
    with transaction.atomic():
        if not FollowUp.objects.filter(tenant=tenant, pk=followup.pk, status=FollowUp.Status.OPEN).update(
            status=FollowUp.Status.DONE, outcome=outcome.strip()[:2000], closed_by=membership.user,
            closed_at=timezone.now(),
        ):
            raise SurveyError(_("This follow-up is already done."))
        followup.refresh_from_db()
        audit_record(tenant=tenant, actor=membership.user, verb="survey.followup_closed", obj=followup.case,
                     data={"followup": followup.pk})
    return followup


# ---------------------------------------------------------------- deflection

@dataclass(frozen=True)
class DeflectionRow:
    day: date
    calls: int
    site_visits: int


@dataclass(frozen=True)
class DeflectionImportResult:
    saved: int
    errors: list[str]


DEFLECTION_COLUMNS = ["date", "calls", "site_visits"]


def deflection_parse_csv(text: str) -> tuple[list[DeflectionRow], list[str]]:
    """Columns date (YYYY-MM-DD), calls, site_visits; a header row is required."""
    reader = csv.DictReader(io.StringIO(text))
    missing = set(DEFLECTION_COLUMNS) - {(name or "").strip() for name in reader.fieldnames or []}
    if missing:
        raise SurveyError(_("The CSV needs the columns %(columns)s; missing: %(missing)s.")
                          % {"columns": ", ".join(DEFLECTION_COLUMNS), "missing": ", ".join(sorted(missing))})
    rows, errors = [], []
    for raw in reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        try:
            rows.append(DeflectionRow(day=_day(row["date"]), calls=_count(row["calls"]),
                                      site_visits=_count(row["site_visits"] or "0")))
        except ValueError as exc:
            errors.append(_("line %(line)s: %(error)s") % {"line": reader.line_num, "error": exc})
    return rows, errors


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        # Python's own message ("Invalid isoformat string") would reach the admin in English.
        raise ValueError(_("%(value)r is not a date (YYYY-MM-DD)") % {"value": value}) from None


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(_("%(value)r is not a whole number") % {"value": value}) from None
    if number < 0:
        raise ValueError(_("%(value)s is negative") % {"value": value})
    return number


def deflection_import(*, tenant: Tenant, membership: Membership, rows: list[DeflectionRow],
                      errors: list[str] | None = None) -> DeflectionImportResult:
    """Upsert one row per day (importing a day again replaces its figures)."""
    if not membership.has_role(Role.ADMIN):
        raise SurveyError(_("Only tenant admins import contact-centre figures."))
    with transaction.atomic():
        for row in rows:
            DeflectionDay.objects.update_or_create(tenant=tenant, day=row.day,
                                                   defaults={"calls": row.calls, "site_visits": row.site_visits})
        audit_record(tenant=tenant, actor=membership.user, verb="deflection.imported", obj=tenant,
                     data={"days": len(rows), "errors": len(errors or [])})
    return DeflectionImportResult(saved=len(rows), errors=list(errors or []))

