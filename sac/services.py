"""Writes for the core app: tenants, people, tokens, the audit log."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from .bulk import rows_insert
from .models import ApiToken, AuditEvent, Membership, Role, Team, Tenant


def audit_record(
    *, tenant: Tenant, actor: AbstractBaseUser | None, verb: str, obj: Model, data: dict[str, Any] | None = None
) -> AuditEvent:
    """Call inside the service's transaction so the audit row commits or rolls back with the change."""
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=actor if actor is not None and actor.is_authenticated else None,
        verb=verb,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        data=data or {},
    )


def api_token_used(*, token: ApiToken) -> None:
    """When a token was last used, for the admin who wonders whether it can be revoked."""
    ApiToken.objects.filter(tenant_id=token.tenant_id, pk=token.pk).update(last_used_at=timezone.now())


def audit_record_many(*, tenant: Tenant, entries: list[tuple[str, Model, dict[str, Any]]]) -> int:
    """Many system events (no actor) in one statement: batch triage records one per mention it handled."""
    rows = [{"tenant_id": tenant.pk, "actor_id": None, "verb": verb, "object_type": obj._meta.label_lower,
             "object_id": str(obj.pk), "data": data} for verb, obj, data in entries]
    return len(rows_insert(AuditEvent, rows, returning=["id"]))


@transaction.atomic
def tenant_create(*, slug: str, name: str, time_zone: str = "America/Sao_Paulo", locale: str = "pt-br") -> Tenant:
    tenant = Tenant.objects.create(slug=slug, name=name, time_zone=time_zone, locale=locale)
    audit_record(tenant=tenant, actor=None, verb="tenant.created", obj=tenant, data={"slug": slug})
    return tenant


@transaction.atomic
def membership_ensure(
    *, tenant: Tenant, username: str, role: str, password: str | None = None, teams: list[Team] | None = None,
    first_name: str = "", email: str = "",
) -> Membership:
    """Create the user and membership if missing (idempotent: the demo seed calls it on every run)."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username, defaults={"first_name": first_name, "email": email}
    )
    if created and password:
        user.set_password(password)
        user.save(update_fields=["password"])
    membership, m_created = Membership.objects.get_or_create(
        tenant=tenant, user=user, defaults={"role": Role(role)}
    )
    if teams:
        membership.teams.add(*teams)
    if m_created:
        audit_record(tenant=tenant, actor=None, verb="membership.created", obj=membership, data={"role": role})
    return membership


@transaction.atomic
def api_token_create(*, membership: Membership, name: str) -> tuple[ApiToken, str]:
    """Returns the token row and the secret, which is shown once and never stored."""
    secret = ApiToken.new_secret()
    token = ApiToken.objects.create(
        tenant=membership.tenant, membership=membership, name=name,
        digest=ApiToken.digest_of(secret), prefix=secret[:12],
    )
    audit_record(tenant=membership.tenant, actor=membership.user, verb="api_token.created", obj=token)
    return token, secret
