from django.db.models import QuerySet

from sac.models import Tenant

from .models import ChannelAccount, DeadLetter, Mention


def channels_for(tenant: Tenant) -> QuerySet[ChannelAccount]:
    return ChannelAccount.objects.filter(tenant=tenant).order_by("name")


def mentions_for(tenant: Tenant) -> QuerySet[Mention]:
    return Mention.objects.filter(tenant=tenant).select_related("author", "channel")


def mentions_untriaged(tenant_id: int | None = None) -> QuerySet[Mention]:
    """For the triage sweep: across tenants when tenant_id is None (the sweep re-scopes per tenant)."""
    qs = Mention.objects.filter(triaged_at__isnull=True)
    return qs.filter(tenant_id=tenant_id) if tenant_id is not None else qs


def dead_letters_for(tenant: Tenant) -> QuerySet[DeadLetter]:
    return DeadLetter.objects.filter(tenant=tenant).order_by("-created_at")
