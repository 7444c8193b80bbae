"""The tenant's inbox settings: contact channels offered as canned variables, Messenger's HUMAN_AGENT tag."""

from django.db import transaction

from channels_ingest.models import ChannelAccount, Platform
from sac.models import Membership, Role, Tenant
from sac.services import audit_record

from ..models import InboxSettings
from .common import CaseActionError


def inbox_settings_save(*, tenant: Tenant, membership: Membership, contact_email: str = "", contact_phone: str = "",
                        chat_url: str = "", human_agent_channels: list[ChannelAccount] | None = None,
                        reopen_window_days: int | None = None) -> InboxSettings:
    if not membership.has_role(Role.ADMIN):
        raise CaseActionError("Only tenant admins change the inbox settings.")
    channels = human_agent_channels or []
    if any(c.tenant_id != tenant.pk or c.platform != Platform.FACEBOOK for c in channels):
        raise CaseActionError("The HUMAN_AGENT tag applies only to this brand's Facebook pages.")
    with transaction.atomic():
        settings, _ = InboxSettings.objects.select_for_update().get_or_create(tenant=tenant)
        settings.contact_email, settings.contact_phone, settings.chat_url = contact_email, contact_phone, chat_url
        settings.save(update_fields=["contact_email", "contact_phone", "chat_url", "updated_at"])
        settings.human_agent_channels.set(channels)
        if reopen_window_days is not None:
            if not 0 <= reopen_window_days <= 365:
                raise CaseActionError("The reopen window is between 0 and 365 days.")
            Tenant.objects.filter(pk=tenant.pk).update(reopen_window_days=reopen_window_days)
            tenant.reopen_window_days = reopen_window_days
        audit_record(tenant=tenant, actor=membership.user, verb="inbox_settings.updated", obj=settings, data={
            "contact_email": contact_email, "contact_phone": contact_phone, "chat_url": chat_url,
            "human_agent_channels": [c.pk for c in channels], "reopen_window_days": tenant.reopen_window_days})
    return settings
