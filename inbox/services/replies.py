"""Replies: queueing, sending exactly once, retries, the public-to-private handoff."""


import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from channels_ingest.connectors import connector_for
from channels_ingest.errors import (
    DeliveryUnknown,
    PermanentError,
    QuotaExhausted,
    RecipientUnreachable,
    TransientError,
)
from channels_ingest.models import Mention
from channels_ingest.services import channel_quota_refused, profile_dms_closed
from channels_ingest.types import OutboundMedia, OutboundMessage
from sac.models import Membership, Tenant
from sac.services import audit_record

from ..limits import check_length
from ..media import image_route
from ..models import (
    CannedReply,
    Case,
    Reply,
    ReplyAttachment,
)
from ..windows import invite_text, private_route
from .common import (
    DELIVERY_UNKNOWN,
    MAX_SEND_ATTEMPTS,
    RECIPIENT_UNREACHABLE,
    CaseActionError,
    _may_work_on,
    case_answered,
)

log = logging.getLogger(__name__)

# After a send ended in doubt, how long to wait before looking for the post (the network may list it late).
OUTCOME_CHECK_DELAY_SECONDS = 20

# ---------------------------------------------------------------- replies

class ThreadChanged(CaseActionError):
    """The conversation moved on while the agent was writing; the reply is not sent until they have seen it."""

    def __init__(self, changes: list[str]) -> None:
        # Translated when raised: the request's language is active then (the view shows str(exc)).
        super().__init__(_("Since you opened this reply: %(changes)s. Read the thread, then press Send again to "
                           "send it as it is.") % {"changes": "; ".join(changes)})
        self.changes = changes


def thread_changes_since(*, tenant: Tenant, case: Case, since: datetime, user: AbstractBaseUser) -> list[str]:
    """What a colleague or the customer added to the thread after `since` (what the agent has not seen)."""
    changes = []
    # The customer's new messages, and the brand's replies written outside SAC (on the network itself or in another
    # tool: the agent must see them before answering again), in one read.
    arrived = list(Mention.objects.filter(tenant=tenant, case_link__case=case, received_at__gt=since)
                   .order_by("posted_at", "pk").values_list("direction", "text"))
    inbound = sum(1 for direction, _text in arrived if direction == Mention.Direction.INBOUND)
    if inbound:
        changes.append(ngettext("the customer wrote %(count)d new message", "the customer wrote %(count)d new messages",
                                inbound) % {"count": inbound})
    changes += [_("a reply was sent outside SAC: “%(text)s”") % {"text": text[:60]}
                for direction, text in arrived if direction == Mention.Direction.OUTBOUND]
    for reply in Reply.objects.filter(tenant=tenant, case=case, created_at__gt=since).exclude(author=user) \
            .select_related("author"):
        who = reply.author.get_username() if reply.author else _("someone")
        changes.append(_("%(who)s replied: “%(text)s”") % {"who": who, "text": reply.text[:60]})
    return changes


def public_target(*, tenant: Tenant, case: Case) -> Mention | None:
    """The customer's latest PUBLIC post or comment on the case: what a public reply answers. Never a private
    message, even when that is the latest thing they wrote (after a handoff the conversation goes on in private,
    and a public reply must still go under their post: X takes no reply to a DM id, and Facebook none to a
    Messenger message). None when they wrote only privately."""
    return (
        Mention.objects.filter(tenant=tenant, case_link__case=case, direction=Mention.Direction.INBOUND)
        .exclude(kind=Mention.Kind.DIRECT).order_by("-posted_at", "-pk").first()
    )


def _no_public_target() -> CaseActionError:
    return CaseActionError(_("The customer has written only privately on this case: there is no public post or "
                             "comment to answer publicly. Answer with a private message."))


def _stored_key(tenant: Tenant, idempotency_key: str) -> str:
    """The key as Reply stores it: the page's key, scoped to the tenant."""
    return f"t{tenant.pk}:{idempotency_key}"


def reply_create(*, tenant: Tenant, membership: Membership, case: Case, text: str, visibility: str,
                 idempotency_key: str, canned_reply: CannedReply | None = None,
                 seen_at: datetime | None = None, attachment: ReplyAttachment | None = None,
                 waits_for: Reply | None = None) -> Reply:
    """Queue a reply. The same idempotency key (a double click, a resubmitted form) returns the same reply.

    `attachment` (stored by reply_attachment_store) goes out with it where the network takes an image on
    this route, within the network's type and size limits (inbox/media.py); elsewhere the reply is refused.

    `seen_at` is when the agent's page last showed the thread: if the customer or a colleague
    added to it since, the send stops with ThreadChanged so nobody answers a conversation they have not read.
    """
    key = _stored_key(tenant, idempotency_key)
    existing = Reply.objects.filter(tenant=tenant, idempotency_key=key).first()
    if existing is not None:
        return existing
    if not _may_work_on(membership, case):
        raise CaseActionError(_("Only the assignee or a supervisor can reply on this case. Claim it first."))
    if not case.is_open:
        raise CaseActionError(_("This case is closed for replies; reopen it first."))
    text = text.strip()
    if not text:
        raise CaseActionError(_("The reply is empty."))
    if visibility not in Reply.Visibility.values:
        raise CaseActionError(_("Choose a public reply or a private message."))
    length = check_length(text, platform=case.channel.platform, visibility=visibility)
    if not length.ok:
        raise CaseActionError(
            _("Too long for a %(kind)s on %(network)s: %(length)s characters as the network counts them, "
              "%(limit)s at most.")
            % {"kind": Reply.Visibility(visibility).label.lower(), "network": case.channel.get_platform_display(),
               "length": length.length, "limit": length.limit}
        )
    if visibility == Reply.Visibility.PUBLIC:
        last_inbound = public_target(tenant=tenant, case=case)
        if last_inbound is None:
            raise _no_public_target()
    else:
        # A private message follows the customer's latest message, whatever it was: their Messenger message
        # (answered in Messenger), or their comment (a private reply to it).
        last_inbound = (
            Mention.objects.filter(tenant=tenant, case_link__case=case, direction=Mention.Direction.INBOUND)
            .order_by("-posted_at", "-pk").first()
        )
    if visibility == Reply.Visibility.PRIVATE and case.customer is None:
        raise CaseActionError(_("We do not know who the customer is on this network, so no private message."))
    if visibility == Reply.Visibility.PRIVATE:
        # The platforms' messaging windows (the composer shows the same answer before the agent types).
        route = private_route(tenant, case)
        if not route.allowed:
            raise CaseActionError(route.reason)
    if attachment is not None:
        if attachment.tenant_id != tenant.pk:
            raise CaseActionError(_("That image is not in this brand's files."))
        rule = image_route(platform=case.channel.platform, visibility=visibility,
                           replied_kind=last_inbound.kind if last_inbound else "")
        if not rule.allowed:
            raise CaseActionError(rule.reason)
        if attachment.content_type not in rule.types:
            raise CaseActionError(_("%(network)s does not take this kind of image here; it takes %(hint)s.")
                                  % {"network": case.channel.get_platform_display(), "hint": rule.hint})
        if attachment.size > rule.limit_for(attachment.content_type):
            raise CaseActionError(_("The image is too large for %(network)s here: %(hint)s.")
                                  % {"network": case.channel.get_platform_display(), "hint": rule.hint})
    if seen_at is not None:
        changes = thread_changes_since(tenant=tenant, case=case, since=seen_at, user=membership.user)
        if changes:
            raise ThreadChanged(changes)
    try:
        with transaction.atomic():
            reply = Reply.objects.create(
                tenant=tenant, case=case, author=membership.user, visibility=visibility, text=text,
                in_reply_to=last_inbound, canned_reply=canned_reply, idempotency_key=key, attachment=attachment,
                waits_for=waits_for,
            )
            if canned_reply is not None:
                CannedReply.objects.filter(tenant=tenant, pk=canned_reply.pk).update(usage_count=F("usage_count") + 1)
            audit_record(tenant=tenant, actor=membership.user, verb="reply.queued", obj=case,
                         data={"reply": reply.pk, "visibility": visibility,
                               **({"attachment": attachment.pk} if attachment else {})})
            from .. import tasks

            transaction.on_commit(lambda: tasks.reply_deliver.delay(tenant.pk, reply.pk))
    except IntegrityError:
        # Two identical submits raced past the check above: the other one created it.
        return Reply.objects.get(tenant=tenant, idempotency_key=key)
    return reply


def reply_retry(*, tenant: Tenant, membership: Membership, reply: Reply, outcome_checked: bool = False) -> Reply:
    """Send a failed reply again, as the same row (so it still cannot go out twice at once).

    When an earlier attempt ended in doubt (the request left, no clear answer came back), the post may
    exist on the network: the agent must say they checked (`outcome_checked`), and where the network can
    be asked the send still looks for it first and adopts it instead of posting again.
    """
    if not _may_work_on(membership, reply.case):
        raise CaseActionError(_("Only the assignee or a supervisor can resend on this case."))
    if reply.state != Reply.State.FAILED:
        raise CaseActionError(_("Only a failed reply can be sent again."))
    unknown = reply.error.startswith(DELIVERY_UNKNOWN)
    if unknown and not outcome_checked:
        raise CaseActionError(_("This reply may already be on the network: check the conversation there, "
                                "then confirm to send it again."))
    with transaction.atomic():
        # An unknown outcome keeps its mark in `error`: reply_deliver looks for the post before posting again.
        if not Reply.objects.filter(tenant=tenant, pk=reply.pk, state=Reply.State.FAILED).update(
            state=Reply.State.QUEUED, error=reply.error if unknown else "", next_attempt_at=None
        ):
            raise CaseActionError(_("The reply changed meanwhile; reload the page."))
        audit_record(tenant=tenant, actor=membership.user, verb="reply.retried", obj=reply.case,
                     data={"reply": reply.pk, "outcome_checked": outcome_checked})
        from .. import tasks

        transaction.on_commit(lambda: tasks.reply_deliver.delay(tenant.pk, reply.pk))
    reply.refresh_from_db()
    return reply


def case_handoff_private(*, tenant: Tenant, membership: Membership, case: Case, public_text: str,
                         private_text: str, idempotency_key: str,
                         seen_at: datetime | None = None) -> tuple[Reply, Reply]:
    """One click from a public complaint to a private conversation: a short public answer
    ("we sent you a message") and the private message itself, both queued together or not at all.

    The public answer waits for the private message: it is posted once that one is sent, so it never
    announces a message that did not arrive. When the network refuses the private message because the
    customer does not accept it (X DMs closed to the brand), the public answer becomes an invitation to write
    to the brand privately (reply_deliver).

    `seen_at` is when the agent's page last showed the thread, as for reply_create: if the customer or a colleague
    added to it since, nothing is queued and ThreadChanged says what changed."""
    done = Reply.objects.filter(tenant=tenant, idempotency_key__in=[
        _stored_key(tenant, f"{idempotency_key}:{half}") for half in ("public", "private")])
    sent = {reply.visibility: reply for reply in done}
    if len(sent) == 2:  # a double click or a resubmitted form: the handoff already queued, nothing twice
        return sent[Reply.Visibility.PUBLIC], sent[Reply.Visibility.PRIVATE]
    if case.customer is None:
        raise CaseActionError(_("We do not know who the customer is on this network, so no private message."))
    if public_target(tenant=tenant, case=case) is None:
        raise _no_public_target()
    if seen_at is not None:
        # Checked once, before either half: the private half, queued first, is this agent's own and no change.
        changes = thread_changes_since(tenant=tenant, case=case, since=seen_at, user=membership.user)
        if changes:
            raise ThreadChanged(changes)
    with transaction.atomic():
        private = reply_create(tenant=tenant, membership=membership, case=case, text=private_text,
                               visibility=Reply.Visibility.PRIVATE, idempotency_key=f"{idempotency_key}:private")
        public = reply_create(tenant=tenant, membership=membership, case=case, text=public_text,
                              visibility=Reply.Visibility.PUBLIC, idempotency_key=f"{idempotency_key}:public",
                              waits_for=private)
    return public, private

def _outbound(reply: Reply) -> OutboundMessage:
    return OutboundMessage(
        visibility=reply.visibility,
        text=reply.text,
        in_reply_to_external_id=reply.in_reply_to.external_id if reply.in_reply_to else "",
        recipient_external_id=reply.case.customer.external_id if reply.case.customer else "",
    )


def _with_media(connector: Any, reply: Reply, message: OutboundMessage) -> OutboundMessage:
    """The message with its image's network id: uploaded once, the id recorded on the row before anything is
    posted, so a retry after a failed post reuses it (until the network forgets it) instead of uploading again.
    Where the image travels as its own message (Messenger), that message is sent once and its id recorded too.

    Runs while this worker owns the row (state `sending`); a failure raises like a failed post and the row
    goes back to the queue or fails as any send does.
    """
    upload = getattr(connector, "upload_media", None)
    if upload is None:
        raise PermanentError(_("%(network)s takes no images from SAC.")
                             % {"network": reply.case.channel.get_platform_display()})
    now = timezone.now()
    lifetime = getattr(connector, "media_id_lifetime", timedelta(hours=23))
    media_id = reply.media_external_id
    if not media_id or reply.media_uploaded_at is None or now - reply.media_uploaded_at > lifetime:
        attachment = reply.attachment
        with attachment.file.open("rb") as handle:
            content = handle.read()
        media_id = upload(OutboundMedia(content=content, content_type=attachment.content_type,
                                        filename=attachment.original_name or attachment.file.name.rsplit("/", 1)[-1]),
                          message=message)
        Reply.objects.filter(tenant_id=reply.tenant_id, pk=reply.pk, state=Reply.State.SENDING).update(
            media_external_id=media_id, media_uploaded_at=now)
        reply.media_external_id, reply.media_uploaded_at = media_id, now
    message = replace(message, media_id=media_id)
    apart = getattr(connector, "sends_media_apart", None)
    if apart is not None and apart(message) and not reply.media_message_id:
        # The image message itself may be what ended in doubt (its id is recorded only once an answer came):
        # look for it before sending it again, as reply_deliver does for the text.
        find = getattr(connector, "find_sent_media", None)
        sent = find(message, since=reply.created_at) \
            if find is not None and reply.error.startswith(DELIVERY_UNKNOWN) else None
        if sent:
            audit_record(tenant=reply.tenant, actor=None, verb="reply.adopted", obj=reply.case,
                         data={"reply": reply.pk, "external_id": sent, "image": True})
        else:
            sent = connector.send_media_message(message)
        Reply.objects.filter(tenant_id=reply.tenant_id, pk=reply.pk, state=Reply.State.SENDING).update(
            media_message_id=sent)
        reply.media_message_id = sent
    if apart is not None and apart(message):
        message = replace(message, media_id="")  # the image is out: the text follows on its own
    return message


def _look_up(connector: Any) -> Callable[..., str | None] | None:
    """The connector's `find_sent` when its network can say whether a post of ours is there."""
    return getattr(connector, "find_sent", None)


def _due(now: datetime) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def reply_deliver(*, tenant_id: int, reply_id: int) -> Reply | None:
    """Send a queued reply once. queued → sending → sent|failed, each step a conditional update.

    Whoever moves the row out of `queued` owns the send; a retried or duplicated
    task finds it taken (or not yet due, after a rate limit) and does nothing, so the customer never
    gets it twice. After an attempt that ended in doubt, the network is asked first and a post found
    there is adopted instead of posting again.
    """
    now = timezone.now()
    taken = Reply.objects.filter(_due(now), tenant_id=tenant_id, pk=reply_id, state=Reply.State.QUEUED).update(
        state=Reply.State.SENDING, sending_started_at=now, attempts=F("attempts") + 1, next_attempt_at=None
    )
    if not taken:
        return None
    reply = Reply.objects.select_related("case__channel", "case__customer", "in_reply_to", "tenant",
                                         "attachment").get(tenant_id=tenant_id, pk=reply_id)
    if reply.waits_for_id is not None and not _handoff_public_ready(reply):
        return None
    message = _outbound(reply)
    was_unknown = reply.error.startswith(DELIVERY_UNKNOWN)
    posting = False  # until the post itself is attempted, a failure leaves an unknown outcome unknown
    connector: Any = None
    try:
        connector = connector_for(reply.case.channel)
        external_id = None
        find_sent = _look_up(connector) if was_unknown else None
        if find_sent is not None:
            external_id = find_sent(message, since=reply.created_at)
            if external_id:
                audit_record(tenant=reply.tenant, actor=None, verb="reply.adopted", obj=reply.case,
                             data={"reply": reply.pk, "external_id": external_id})
        if not external_id:
            if reply.attachment_id:
                message = _with_media(connector, reply, message)
            posting = True
            external_id = connector.send(message)
        # A private reply to a comment reaches the customer under another id (Messenger's page-scoped id): the
        # connector says which (from the send's answer, or from the conversation find_sent found it in), and
        # triage joins their answer to this case by it.
        recipient = getattr(connector, "last_recipient_id", "")
    except TransientError as exc:
        # Not sent (refused before anything was posted): back to the queue for the retry, unless we tried
        # enough. A rate limit's reset is honoured: the row is not due (for the task or the sweep) before it.
        # The network's credits or usage cap spent (QuotaExhausted) fails it at once: it lasts until someone adds
        # credits, and an answer posted hours later, unseen, would be stale; the agent sees why and sends again.
        quota = isinstance(exc, QuotaExhausted)
        give_up = reply.attempts >= MAX_SEND_ATTEMPTS or quota
        retry_at = now + timedelta(seconds=exc.retry_after_seconds) if exc.retry_after_seconds else None
        error = reply.error if was_unknown and not posting else str(exc)
        if quota:  # the admins and the other agents learn it now, not at the channel's next poll
            channel_quota_refused(tenant_id=tenant_id, channel_id=reply.case.channel_id, reason=str(exc), at=now)
            if str(exc) not in error:
                # The look-up for a send in doubt was refused: it stays in doubt, and the agent sees why it stopped.
                error = f"{error} ({exc})"
        Reply.objects.filter(tenant_id=tenant_id, pk=reply_id, state=Reply.State.SENDING).update(
            state=Reply.State.FAILED if give_up else Reply.State.QUEUED, error=error,
            next_attempt_at=None if give_up else retry_at,
        )
        if give_up:
            _reply_failed_audit(reply, error)
            _release_waiting(reply)
            return reply
        raise
    except PermanentError as exc:
        unknown = isinstance(exc, DeliveryUnknown) or (was_unknown and not posting)
        error = f"{DELIVERY_UNKNOWN} {exc}" if unknown else str(exc)
        if isinstance(exc, RecipientUnreachable):
            error = f"{RECIPIENT_UNREACHABLE} {exc}"
            if reply.case.customer_id is not None:  # the composer offers the public invitation from now on
                profile_dms_closed(tenant_id=tenant_id, profile_id=reply.case.customer_id, at=now)
        Reply.objects.filter(tenant_id=tenant_id, pk=reply_id, state=Reply.State.SENDING).update(
            state=Reply.State.FAILED, error=error
        )
        _reply_failed_audit(reply, str(exc))
        _release_waiting(reply)
        if isinstance(exc, DeliveryUnknown) and connector is not None and _look_up(connector) is not None:
            from .. import tasks

            # Looking is safe (it posts nothing): try soon, so a post that did go out shows as sent by itself.
            transaction.on_commit(lambda: tasks.reply_outcome_check.apply_async(
                (tenant_id, reply_id), countdown=OUTCOME_CHECK_DELAY_SECONDS))
        reply.refresh_from_db()
        return reply
    _reply_sent(reply, external_id, recipient_external_id=recipient)
    reply.refresh_from_db()
    return reply


def reply_outcome_check(*, tenant_id: int, reply_id: int) -> Reply | None:
    """Look for a reply whose send ended in doubt and, when the network has it, mark it sent with its id.

    Only looks: a reply that is not there stays "delivery unknown" for the agent, whose Send again looks
    once more before posting. Taking the row (failed → sending) keeps it from racing a retry.
    """
    taken = Reply.objects.filter(tenant_id=tenant_id, pk=reply_id, state=Reply.State.FAILED,
                                 error__startswith=DELIVERY_UNKNOWN).update(
        state=Reply.State.SENDING, sending_started_at=timezone.now())
    if not taken:
        return None
    reply = Reply.objects.select_related("case__channel", "case__customer", "in_reply_to", "tenant").get(
        tenant_id=tenant_id, pk=reply_id
    )
    external_id, connector = None, None
    try:
        connector = connector_for(reply.case.channel)
        find_sent = _look_up(connector)
        if find_sent is not None:
            external_id = find_sent(_outbound(reply), since=reply.created_at)
    except (TransientError, PermanentError):
        log.info("reply %s: could not look for it on the network", reply_id, exc_info=True)
    if not external_id:
        Reply.objects.filter(tenant_id=tenant_id, pk=reply_id, state=Reply.State.SENDING).update(
            state=Reply.State.FAILED)
        reply.refresh_from_db()
        return reply
    audit_record(tenant=reply.tenant, actor=None, verb="reply.adopted", obj=reply.case,
                 data={"reply": reply.pk, "external_id": external_id})
    # As after a clean send: whom a private reply to a comment reached, so the customer's answer joins the case.
    _reply_sent(reply, external_id, recipient_external_id=getattr(connector, "last_recipient_id", ""))
    reply.refresh_from_db()
    return reply


def _handoff_public_ready(reply: Reply) -> bool:
    """The public half of a handoff, taken for sending: may it go now? It goes once the private message is
    sent; as an invitation to write privately when the network refused that one for this customer; not at all
    (failed, saying why) when the private message failed otherwise; later when that one is still under way."""
    tenant_id = reply.tenant_id
    waited = Reply.objects.filter(tenant_id=tenant_id, pk=reply.waits_for_id).values("state", "error").first()
    if waited is None or waited["state"] == Reply.State.SENT:
        return True
    if waited["state"] in (Reply.State.QUEUED, Reply.State.SENDING) or waited["error"].startswith(DELIVERY_UNKNOWN):
        # Back in the queue, as it was: the private message's outcome releases it (_release_waiting), also
        # when that outcome is in doubt until someone (or the outcome check) finds the message sent.
        Reply.objects.filter(tenant_id=tenant_id, pk=reply.pk, state=Reply.State.SENDING).update(
            state=Reply.State.QUEUED, sending_started_at=None, attempts=F("attempts") - 1)
        return False
    if waited["error"].startswith(RECIPIENT_UNREACHABLE):
        text = invite_text(reply.case)
        Reply.objects.filter(tenant_id=tenant_id, pk=reply.pk, state=Reply.State.SENDING).update(text=text)
        audit_record(tenant=reply.tenant, actor=None, verb="reply.rewritten", obj=reply.case,
                     data={"reply": reply.pk, "why": "private message not deliverable", "text": text})
        reply.text = text
        return True
    error = _("Not sent: it announces a private message that was not sent (%(error)s). Send the private "
              "message again, then this one.") % {"error": waited["error"]}
    Reply.objects.filter(tenant_id=tenant_id, pk=reply.pk, state=Reply.State.SENDING).update(
        state=Reply.State.FAILED, error=error)
    _reply_failed_audit(reply, error)
    return False


def _release_waiting(reply: Reply) -> None:
    """The reply's outcome is known: the replies waiting for it (a handoff's public half) may go now."""
    from .. import tasks

    for pk in Reply.objects.filter(tenant_id=reply.tenant_id, waits_for_id=reply.pk,
                                   state=Reply.State.QUEUED).values_list("pk", flat=True):
        transaction.on_commit(lambda pk=pk: tasks.reply_deliver.delay(reply.tenant_id, pk))


def _reply_failed_audit(reply: Reply, error: str) -> None:
    audit_record(tenant=reply.tenant, actor=None, verb="reply.failed", obj=reply.case,
                 data={"reply": reply.pk, "error": error})


def _reply_sent(reply: Reply, external_id: str, *, recipient_external_id: str = "") -> None:
    tenant, now = reply.tenant, timezone.now()
    with transaction.atomic():
        Reply.objects.filter(tenant=tenant, pk=reply.pk, state=Reply.State.SENDING).update(
            state=Reply.State.SENT, external_id=external_id, sent_at=now, error="",
            recipient_external_id=recipient_external_id[:64],
        )
        case = Case.objects.get(tenant=tenant, pk=reply.case_id)
        audit_record(tenant=tenant, actor=reply.author, verb="reply.sent", obj=case,
                     data={"reply": reply.pk, "external_id": external_id, "visibility": reply.visibility})
        reply.sent_at = now
        case_answered(case=case, at=now, actor=reply.author, reply=reply)
        _release_waiting(reply)


def replies_stale_sweep(*, older_than: timedelta = timedelta(seconds=30)) -> list[tuple[int, int]]:
    """Queued replies whose task was lost (broker restart) and are due are returned for re-enqueueing;
    replies stuck in `sending` (a worker died mid-send) are failed for a human to check, never resent
    (SAC looks for them on the network first)."""
    now = timezone.now()
    stuck = Reply.objects.filter(state=Reply.State.SENDING, sending_started_at__lt=now - timedelta(minutes=5))
    for reply in stuck.select_related("tenant", "case"):
        if Reply.objects.filter(tenant=reply.tenant, pk=reply.pk, state=Reply.State.SENDING).update(
            state=Reply.State.FAILED,
            error=f"{DELIVERY_UNKNOWN} the worker stopped while sending; check the network before resending."
        ):
            _reply_failed_audit(reply, "worker stopped while sending")
            from .. import tasks

            # The post may be out: look for it (looking posts nothing), so one that went out shows as sent.
            transaction.on_commit(lambda r=reply: tasks.reply_outcome_check.delay(r.tenant_id, r.pk))
    return list(
        Reply.objects.filter(_due(now), state=Reply.State.QUEUED, created_at__lt=now - older_than)
        .values_list("tenant_id", "pk")[:500]
    )
