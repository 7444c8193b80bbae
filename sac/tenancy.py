"""The one place that decides who may see a tenant's pages (STYLE rule 4).

Every UI view under /t/<slug>/ is wrapped by `tenant_view(role)`: a tenant the
user does not belong to is a 404 (indistinguishable from one that does not
exist); a role below the one required inside their own tenant is a 403.
"""

import math
import time
import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .i18n import chosen_language, tenant_language
from .models import Membership, Role, Tenant
from .selectors import user_memberships


class TenantRequest(HttpRequest):
    tenant: Tenant
    membership: Membership


ONLINE_SECONDS = 120


def _online_key(tenant_id: int, user_id: int) -> str:
    return f"t{tenant_id}:online:{user_id}"


def mark_online(membership: Membership) -> None:
    """Any page an agent loads (the inbox polls every few seconds) keeps them 'online' for a while."""
    cache.set(_online_key(membership.tenant_id, membership.user_id), True, timeout=ONLINE_SECONDS)


# When this process last marked each (tenant, user) online. The inbox polls every few seconds; renewing a
# 120-second mark on each request was a Redis round trip a request (0.7 ms of CPU of a 4 ms poll) for nothing.
_marked_at: dict[tuple[int, int], float] = {}
MARK_EVERY_SECONDS = 30


def _keep_online(membership: Membership) -> None:
    """mark_online, at most every MARK_EVERY_SECONDS per process: someone who stops is offline 120 to 150 s
    after their last request (each worker renews on its own), instead of exactly 120."""
    key, now = (membership.tenant_id, membership.user_id), time.monotonic()
    if now - _marked_at.get(key, -math.inf) < MARK_EVERY_SECONDS:
        return
    if len(_marked_at) > 10_000:  # users who left long ago: start over rather than grow
        _marked_at.clear()
    mark_online(membership)
    _marked_at[key] = now


def online_user_ids(tenant: Tenant, user_ids: list[int]) -> set[int]:
    keys = {_online_key(tenant.pk, uid): uid for uid in user_ids}
    return {keys[key] for key in cache.get_many(list(keys))}


def role_at_least(membership: Membership, role: str) -> bool:
    return membership.has_role(role)


def require_role(membership: Membership, role: str) -> None:
    if not role_at_least(membership, role):
        raise PermissionDenied(_("This needs the %(role)s role.") % {"role": Role(role).label})


def page_language(request: HttpRequest, tenant: Tenant) -> str:
    """The language of a tenant's pages: the user's own pick (the header switcher's cookie) wins, then the
    brand's locale, which outranks the browser's Accept-Language that sac.i18n.LocaleMiddleware went by."""
    return chosen_language(request) or tenant_language(tenant, translation.get_language())


def tenant_view(role: str = Role.AGENT) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, tenant_slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            # All the user's memberships, read with the session's user (sac.backends): this page's is among them,
            # and the header lists them all (sac.context_processors.tenancy takes them from the request).
            memberships = user_memberships(request.user)
            membership = next((m for m in memberships if m.tenant.slug == tenant_slug), None)
            if membership is None:
                raise Http404("No such tenant.")  # not theirs and not there are the same 404
            request.my_memberships = memberships  # type: ignore[attr-defined]
            require_role(membership, role)
            request.membership = membership  # type: ignore[attr-defined]
            request.tenant = membership.tenant  # type: ignore[attr-defined]
            _keep_online(membership)
            language = page_language(request, membership.tenant)
            request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
            # Times on the tenant's pages read in the brand's own time zone, not the server's.
            with timezone.override(zoneinfo.ZoneInfo(membership.tenant.time_zone)), translation.override(language):
                response = view(request, *args, **kwargs)
            # LocaleMiddleware only fills Content-Language when the view did not.
            response.headers.setdefault("Content-Language", language)
            return response

        return wrapped

    return decorator
