from django.http import HttpRequest

from .selectors import user_memberships


def tenancy(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": getattr(request, "membership", None),
        # tenant_view already read them for the page's own membership.
        "my_memberships": getattr(request, "my_memberships", None) or user_memberships(user),
    }
