from sac.models import Tenant

from .models import SLAPolicy

# Used when a tenant has not set a policy yet: an hour to answer, a day to solve.
FALLBACK = SLAPolicy(name="Default", first_response_minutes=60, resolution_minutes=24 * 60, is_default=True)


def policy_for(tenant: Tenant) -> SLAPolicy:
    return SLAPolicy.objects.filter(tenant=tenant, is_default=True).first() or FALLBACK
