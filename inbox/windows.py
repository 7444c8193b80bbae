"""Which private route a case has left, and why not when it has none (the platforms' messaging windows).

- Messenger: a page may answer within 24 hours of the customer's last message; pages approved for the
  HUMAN_AGENT tag (an inbox setting per page) may answer for 7 days.
- Facebook / Instagram comments: one private reply per comment, within 7 days of the comment.
- X: a direct message, unless X refused our last one to this customer (their DMs are not open to the brand;
  X says so only when it answers, so the refusal is remembered on the customer's profile for
  DMS_CLOSED_MEMORY, or until they write to the brand privately).

The composer reads this before the agent types (the private option is disabled with the reason and the
alternatives); reply_create checks it again, so the rule never depends on the page.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from channels_ingest.models import Mention, SentMessage
from sac.models import Tenant

from .models import Case, InboxSettings, Reply

MESSENGER_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
PRIVATE_REPLY_WINDOW = timedelta(days=7)
# People open their DMs again: after this long a refused DM no longer stops the agent from trying one.
DMS_CLOSED_MEMORY = timedelta(days=30)

# A public answer that asks the customer to write privately, in the customer's language.
INVITE_TO_DM = {
    "pt": "Oi, {name}! Para cuidarmos disso com segurança, mande uma mensagem privada para a nossa página, "
          "por favor. Protocolo {protocol}.",
    "en": "Hi {name}, so we can sort this out safely, please send our page a private message. "
          "Protocol {protocol}.",
}
# On X the brand cannot DM someone whose DMs are closed to it, but they can always DM the brand.
INVITE_TO_DM_X = {
    "pt": "Oi, {name}! Não conseguimos te enviar DM. Para cuidarmos disso com segurança, mande uma DM para "
          "{brand}, por favor. Protocolo {protocol}.",
    "en": "Hi {name}, we could not send you a DM. So we can sort this out safely, please send {brand} a DM. "
          "Protocol {protocol}.",
}


def invite_text(case: Case) -> str:
    """The public invitation to write privately, in the case's language, for the case's network."""
    name = case.customer.first_name if case.customer else ""
    if case.channel.platform in ("x", "simulator"):
        handle = (case.channel.handle or "").lstrip("@")
        brand = f"@{handle}" if handle else {"en": "us"}.get(case.language, "nós")
        return INVITE_TO_DM_X.get(case.language, INVITE_TO_DM_X["pt"]).format(name=name, brand=brand,
                                                                              protocol=case.protocol)
    return INVITE_TO_DM.get(case.language, INVITE_TO_DM["pt"]).format(name=name, protocol=case.protocol)


@dataclass(frozen=True)
class Alternative:
    label: str
    text: str = ""  # a public reply the composer can insert
    href: str = ""  # a contact channel of the tenant


@dataclass(frozen=True)
class PrivateRoute:
    allowed: bool
    reason: str  # why not, or which window is open
    how: str = ""  # dm | messenger | messenger_human_agent | private_reply
    until: datetime | None = None
    alternatives: list[Alternative] = field(default_factory=list)


def _age(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours < 48:
        return ngettext("%(count)s hour", "%(count)s hours", hours) % {"count": hours}
    return ngettext("%(count)s day", "%(count)s days", delta.days) % {"count": delta.days}


def _alternatives(tenant: Tenant, case: Case) -> list[Alternative]:
    found = [Alternative(label=_("Reply publicly inviting the customer to send a private message"),
                         text=invite_text(case))]
    settings = InboxSettings.objects.filter(tenant=tenant).first()
    if settings is not None:
        if settings.contact_email:
            found.append(Alternative(label=_("E-mail: %(address)s") % {"address": settings.contact_email},
                                     href=f"mailto:{settings.contact_email}"))
        if settings.contact_phone:
            found.append(Alternative(label=_("Phone: %(number)s") % {"number": settings.contact_phone}))
        if settings.chat_url:
            found.append(Alternative(label=_("Web chat: %(url)s") % {"url": settings.chat_url}, href=settings.chat_url))
    return found


def _human_agent_enabled(tenant: Tenant, case: Case) -> bool:
    return InboxSettings.objects.filter(tenant=tenant, human_agent_channels=case.channel_id).exists()


def private_route(tenant: Tenant, case: Case, *, now: datetime | None = None) -> PrivateRoute:
    now = now or timezone.now()

    def closed(reason: str) -> PrivateRoute:
        return PrivateRoute(allowed=False, reason=reason, alternatives=_alternatives(tenant, case))

    if case.customer_id is None:
        return closed(_("We do not know who the customer is on this network, so no private message."))
    platform = case.channel.platform
    if platform not in ("facebook", "instagram"):
        refused = case.customer.dms_closed_at
        if refused is not None and now - refused < DMS_CLOSED_MEMORY:
            return closed(_("X refused our last direct message to %(who)s: they do not accept DMs from the "
                            "brand. Invite them publicly to send the brand a DM; once they write, you can answer "
                            "privately.") % {"who": case.customer})
        return PrivateRoute(allowed=True, how="dm", reason=_("A direct message on X."))
    network = "Facebook" if platform == "facebook" else "Instagram"
    # The same message reply_create answers: the customer's latest one.
    last = (Mention.objects.filter(tenant=tenant, case_link__case=case, direction=Mention.Direction.INBOUND)
            .order_by("-posted_at", "-pk").first())
    if last is None:
        return closed(_("The customer has not written anything we could answer privately."))
    age = now - last.posted_at
    if last.kind == Mention.Kind.DIRECT and platform == "facebook":
        if age < MESSENGER_WINDOW:
            return PrivateRoute(allowed=True, how="messenger", until=last.posted_at + MESSENGER_WINDOW,
                                reason=_("Messenger: you can answer within 24 hours of the customer's last message."))
        if age < HUMAN_AGENT_WINDOW and _human_agent_enabled(tenant, case):
            return PrivateRoute(allowed=True, how="messenger_human_agent", until=last.posted_at + HUMAN_AGENT_WINDOW,
                                reason=_("Messenger, with the HUMAN_AGENT tag: you can answer within 7 days of "
                                         "the customer's last message."))
        if age < HUMAN_AGENT_WINDOW:
            why = _("Messenger lets the page answer only within 24 hours of the customer's last message, which was "
                    "%(age)s ago (the 7-day HUMAN_AGENT tag is not enabled for this page). The private conversation "
                    "reopens when the customer writes again.")
        else:
            why = _("Messenger lets the page answer only within 24 hours of the customer's last message, which was "
                    "%(age)s ago. The private conversation reopens when the customer writes again.")
        return closed(why % {"age": _age(age)})
    if last.kind != Mention.Kind.COMMENT:
        return closed(_("%(network)s allows a private reply only to a comment, and the customer's last message "
                        "is not one.") % {"network": network})
    if age >= PRIVATE_REPLY_WINDOW:
        return closed(_("%(network)s allows a private reply to a comment only within 7 days; this comment was "
                        "written %(age)s ago.") % {"network": network, "age": _age(age)})
    used = SentMessage.objects.filter(tenant=tenant, channel=case.channel_id,
                                      private_reply_to_comment=last.external_id).exists()
    # A private reply still queued or being sent has taken the one the comment allows, too.
    pending = Reply.objects.filter(tenant=tenant, case=case, visibility=Reply.Visibility.PRIVATE, in_reply_to=last,
                                   state__in=(Reply.State.QUEUED, Reply.State.SENDING, Reply.State.SENT)).exists()
    if used or pending:
        return closed(_("%(network)s allows one private reply per comment, and this comment already has one. "
                        "Continue in the private conversation once the customer answers.") % {"network": network})
    return PrivateRoute(allowed=True, how="private_reply", until=last.posted_at + PRIVATE_REPLY_WINDOW,
                        reason=_("%(network)s allows one private reply to this comment, within 7 days of it.")
                        % {"network": network})
