"""Replies: queueing, sending exactly once, retries, the public-to-private handoff."""


from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from channels_ingest.connectors import connector_for
from channels_ingest.errors import DeliveryUnknown, PermanentError, TransientError
from channels_ingest.models import Mention
from channels_ingest.types import OutboundMessage
from sac.models import Membership, Tenant
from sac.services import audit_record

from .. import events
from ..limits import check_length
from ..models import (
    CannedReply,
    Case,
    Reply,
)
from .common import DELIVERY_UNKNOWN, MAX_SEND_ATTEMPTS, CaseActionError, _may_work_on

# ---------------------------------------------------------------- replies

class ThreadChanged(CaseActionError):
    """The conversation moved on while the agent was writing; the reply is not sent until they have seen it."""

    def __init__(self, changes: list[str]) -> None:
        super().__init__("Since you opened this reply: " + "; ".join(changes)
                         + ". Read the thread, then press Send again to send it as it is.")
        self.changes = changes


def thread_changes_since(*, tenant: Tenant, case: Case, since: datetime, user: AbstractBaseUser) -> list[str]:
    """What a colleague or the customer added to the thread after `since` (what the agent has not seen)."""
    changes = []
    inbound = Mention.objects.filter(tenant=tenant, case_link__case=case, direction=Mention.Direction.INBOUND,
                                     received_at__gt=since).count()
    if inbound:
        changes.append(f"the customer wrote {inbound} new message{'s' if inbound > 1 else ''}")
    for reply in Reply.objects.filter(tenant=tenant, case=case, created_at__gt=since).exclude(author=user) \
            .select_related("author"):
        who = reply.author.get_username() if reply.author else "someone"
        changes.append(f"{who} replied: “{reply.text[:60]}”")
    return changes


def reply_create(*, tenant: Tenant, membership: Membership, case: Case, text: str, visibility: str,
                 idempotency_key: str, canned_reply: CannedReply | None = None,
                 seen_at: datetime | None = None) -> Reply:
    """Queue a reply. The same idempotency key (a double click, a resubmitted form) returns the same reply.

    `seen_at` is when the agent's page last showed the thread: if the customer or a colleague
    added to it since, the send stops with ThreadChanged so nobody answers a conversation they have not read.
    """
    key = f"t{tenant.pk}:{idempotency_key}"
    existing = Reply.objects.filter(tenant=tenant, idempotency_key=key).first()
    if existing is not None:
        return existing
    if not _may_work_on(membership, case):
        raise CaseActionError("Only the assignee or a supervisor can reply on this case. Claim it first.")
    if not case.is_open:
        raise CaseActionError("This case is closed for replies; reopen it first.")
    text = text.strip()
    if not text:
        raise CaseActionError("The reply is empty.")
    if visibility not in Reply.Visibility.values:
        raise CaseActionError("Choose a public reply or a private message.")
    length = check_length(text, platform=case.channel.platform, visibility=visibility)
    if not length.ok:
        raise CaseActionError(
            f"Too long for a {Reply.Visibility(visibility).label.lower()} on {case.channel.get_platform_display()}: "
            f"{length.length} characters as the network counts them, {length.limit} at most."
        )
    last_inbound = (
        Mention.objects.filter(tenant=tenant, case_link__case=case, direction=Mention.Direction.INBOUND)
        .order_by("-posted_at", "-pk").first()
    )
    if visibility == Reply.Visibility.PRIVATE and case.customer is None:
        raise CaseActionError("We do not know who the customer is on this network, so no private message.")
    if seen_at is not None:
        changes = thread_changes_since(tenant=tenant, case=case, since=seen_at, user=membership.user)
        if changes:
            raise ThreadChanged(changes)
    try:
        with transaction.atomic():
            reply = Reply.objects.create(
                tenant=tenant, case=case, author=membership.user, visibility=visibility, text=text,
                in_reply_to=last_inbound, canned_reply=canned_reply, idempotency_key=key,
            )
            if canned_reply is not None:
                CannedReply.objects.filter(tenant=tenant, pk=canned_reply.pk).update(usage_count=F("usage_count") + 1)
            audit_record(tenant=tenant, actor=membership.user, verb="reply.queued", obj=case,
                         data={"reply": reply.pk, "visibility": visibility})
            from .. import tasks

            transaction.on_commit(lambda: tasks.reply_deliver.delay(tenant.pk, reply.pk))
    except IntegrityError:
        # Two identical submits raced past the check above: the other one created it.
        return Reply.objects.get(tenant=tenant, idempotency_key=key)
    return reply


def reply_retry(*, tenant: Tenant, membership: Membership, reply: Reply, outcome_checked: bool = False) -> Reply:
    """Send a failed reply again, as the same row (so it still cannot go out twice at once).

    When the first attempt timed out after the request left, the post may exist on the network:
    the agent must say they checked (`outcome_checked`) before we try again.
    """
    if not _may_work_on(membership, reply.case):
        raise CaseActionError("Only the assignee or a supervisor can resend on this case.")
    if reply.state != Reply.State.FAILED:
        raise CaseActionError("Only a failed reply can be sent again.")
    if reply.error.startswith(DELIVERY_UNKNOWN) and not outcome_checked:
        raise CaseActionError("This reply may already be on the network: check the conversation there, "
                              "then confirm to send it again.")
    with transaction.atomic():
        if not Reply.objects.filter(tenant=tenant, pk=reply.pk, state=Reply.State.FAILED).update(
            state=Reply.State.QUEUED, error=""
        ):
            raise CaseActionError("The reply changed meanwhile; reload the page.")
        audit_record(tenant=tenant, actor=membership.user, verb="reply.retried", obj=reply.case,
                     data={"reply": reply.pk, "outcome_checked": outcome_checked})
        from .. import tasks

        transaction.on_commit(lambda: tasks.reply_deliver.delay(tenant.pk, reply.pk))
    reply.refresh_from_db()
    return reply


def case_handoff_private(*, tenant: Tenant, membership: Membership, case: Case, public_text: str,
                         private_text: str, idempotency_key: str) -> tuple[Reply, Reply]:
    """One click from a public complaint to a private conversation: a short public answer
    ("we sent you a message") and the private message itself, both queued together or not at all."""
    if case.customer is None:
        raise CaseActionError("We do not know who the customer is on this network, so no private message.")
    with transaction.atomic():
        public = reply_create(tenant=tenant, membership=membership, case=case, text=public_text,
                              visibility=Reply.Visibility.PUBLIC, idempotency_key=f"{idempotency_key}:public")
        private = reply_create(tenant=tenant, membership=membership, case=case, text=private_text,
                               visibility=Reply.Visibility.PRIVATE, idempotency_key=f"{idempotency_key}:private")
    return public, private

def reply_deliver(*, tenant_id: int, reply_id: int) -> Reply | None:
    """Send a queued reply once. queued → sending → sent|failed, each step a conditional update.

    Whoever moves the row out of `queued` owns the send; a retried or duplicated
    task finds it taken and does nothing, so the customer never gets it twice.
    """
    now = timezone.now()
    taken = Reply.objects.filter(tenant_id=tenant_id, pk=reply_id, state=Reply.State.QUEUED).update(
        state=Reply.State.SENDING, sending_started_at=now, attempts=F("attempts") + 1
    )
    if not taken:
        return None
    reply = Reply.objects.select_related("case__channel", "case__customer", "in_reply_to", "tenant").get(
        tenant_id=tenant_id, pk=reply_id
    )
    message = OutboundMessage(
        visibility=reply.visibility,
        text=reply.text,
        in_reply_to_external_id=reply.in_reply_to.external_id if reply.in_reply_to else "",
        recipient_external_id=reply.case.customer.external_id if reply.case.customer else "",
    )
    try:
        external_id = connector_for(reply.case.channel).send(message)
    except TransientError as exc:
        # Not sent (the request never landed): back to the queue for the retry, unless we tried enough.
        give_up = reply.attempts >= MAX_SEND_ATTEMPTS
        Reply.objects.filter(tenant_id=tenant_id, pk=reply_id, state=Reply.State.SENDING).update(
            state=Reply.State.FAILED if give_up else Reply.State.QUEUED, error=str(exc)
        )
        if give_up:
            _reply_failed_audit(reply, str(exc))
            return reply
        raise
    except PermanentError as exc:
        error = f"{DELIVERY_UNKNOWN} {exc}" if isinstance(exc, DeliveryUnknown) else str(exc)
        Reply.objects.filter(tenant_id=tenant_id, pk=reply_id, state=Reply.State.SENDING).update(
            state=Reply.State.FAILED, error=error
        )
        _reply_failed_audit(reply, str(exc))
        reply.refresh_from_db()
        return reply
    _reply_sent(reply, external_id)
    reply.refresh_from_db()
    return reply


def _reply_failed_audit(reply: Reply, error: str) -> None:
    audit_record(tenant=reply.tenant, actor=None, verb="reply.failed", obj=reply.case,
                 data={"reply": reply.pk, "error": error})


def _reply_sent(reply: Reply, external_id: str) -> None:
    tenant, now = reply.tenant, timezone.now()
    with transaction.atomic():
        Reply.objects.filter(tenant=tenant, pk=reply.pk, state=Reply.State.SENDING).update(
            state=Reply.State.SENT, external_id=external_id, sent_at=now, error=""
        )
        Case.objects.filter(tenant=tenant, pk=reply.case_id, first_response_at__isnull=True).update(
            first_response_at=now
        )
        case = Case.objects.get(tenant=tenant, pk=reply.case_id)
        audit_record(tenant=tenant, actor=reply.author, verb="reply.sent", obj=case,
                     data={"reply": reply.pk, "external_id": external_id, "visibility": reply.visibility})
        events.case_replied.send(sender=Case, case=case, actor=reply.author, reply=reply)


def replies_stale_sweep(*, older_than: timedelta = timedelta(seconds=30)) -> list[tuple[int, int]]:
    """Queued replies whose task was lost (broker restart) are returned for re-enqueueing;
    replies stuck in `sending` (a worker died mid-send) are failed for a human to check, never resent."""
    now = timezone.now()
    stuck = Reply.objects.filter(state=Reply.State.SENDING, sending_started_at__lt=now - timedelta(minutes=5))
    for reply in stuck.select_related("tenant", "case"):
        if Reply.objects.filter(tenant=reply.tenant, pk=reply.pk, state=Reply.State.SENDING).update(
            state=Reply.State.FAILED,
            error=f"{DELIVERY_UNKNOWN} the worker stopped while sending; check the network before resending."
        ):
            _reply_failed_audit(reply, "worker stopped while sending")
    return list(
        Reply.objects.filter(state=Reply.State.QUEUED, created_at__lt=now - older_than)
        .values_list("tenant_id", "pk")[:500]
    )
