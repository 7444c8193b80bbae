"""The API's tenancy: a viewset base that always scopes by the token's tenant (see sac.authentication)."""

from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import exceptions, permissions, viewsets
from rest_framework.request import Request

from .models import ApiToken, Membership, Role, Tenant


def request_membership(request: Request) -> Membership:
    token = request.auth
    if not isinstance(token, ApiToken):
        raise exceptions.NotAuthenticated("An API token is required.")
    return token.membership


class HasTenantRole(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        needed = getattr(view, "required_role", Role.AGENT)
        return isinstance(request.auth, ApiToken) and request.auth.membership.has_role(needed)


class TenantScopedViewSet(viewsets.GenericViewSet):
    """Base for every API viewset. Subclasses implement `tenant_queryset(tenant)`.

    `get_queryset` is final and filters by the token's tenant once more, so a
    subclass that forgets the tenant still cannot leak another tenant's rows;
    defining `queryset` or `get_queryset` in a subclass is refused at import time.
    """

    permission_classes = [permissions.IsAuthenticated, HasTenantRole]
    required_role: str = Role.AGENT

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for forbidden in ("get_queryset", "queryset"):
            if forbidden in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} must not define {forbidden}: implement tenant_queryset(tenant) instead."
                )

    @property
    def tenant(self) -> Tenant:
        return request_membership(self.request).tenant

    def tenant_queryset(self, tenant: Tenant) -> QuerySet[Model]:
        raise NotImplementedError("Subclasses return their rows for this tenant.")

    def get_queryset(self) -> QuerySet[Model]:
        if getattr(self, "swagger_fake_view", False):
            # Schema generation inspects the model without a request or a tenant.
            return self.tenant_queryset(None).none()  # type: ignore[arg-type]
        tenant = self.tenant
        return self.tenant_queryset(tenant).filter(tenant=tenant)

