from django.http import HttpRequest

from .selectors import user_memberships


def tenancy(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = getattr(request, "my_memberships", None)  # tenant_view read them for the page's own membership
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": getattr(request, "membership", None),
        "my_memberships": user_memberships(user) if memberships is None else memberships,
    }
