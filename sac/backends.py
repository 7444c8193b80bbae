"""The session's user, read with their memberships in one statement.

Every signed-in page needs both: Django's ModelBackend reads the user (an ORM query), then tenant_view and the
header read the user's memberships with their tenants (another). Built by the ORM, the two cost more Python
than the small pages they serve (measured in-process on the bench database: of the 7 ms of CPU the unread-count
poll took, 1.9 ms was the user and 1.8 ms the memberships). Here they are one prepared statement and the
instances are built straight from its rows; `sac.selectors.user_memberships` hands the memberships on.
"""

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest

from .models import Membership, Tenant
from .prepared import model_columns, model_from_row, models_from_row, prepared

# Where the memberships ride on the user object (read by sac.selectors.user_memberships).
MEMBERSHIPS_ATTR = "_sac_memberships"


@functools.cache
def _user_sql() -> str:
    user_model = get_user_model()
    users, memberships, tenants = (user_model._meta.db_table, Membership._meta.db_table, Tenant._meta.db_table)
    user_pk, tenant_pk = user_model._meta.pk.column, Tenant._meta.pk.column
    member_user = Membership._meta.get_field("user").column
    member_tenant = Membership._meta.get_field("tenant").column
    active = Membership._meta.get_field("is_active").column
    by_name, member_pk = Tenant._meta.get_field("name").column, Membership._meta.pk.column
    # The user's own memberships across tenants, as memberships_for_user reads them: active ones, each with its
    # tenant (an inner join inside the outer one, as the ORM's select_related), by tenant name. A user with none
    # still gets their one row.
    return f"""
SELECT {model_columns(user_model, "u")}, {model_columns(Membership, "m")}, {model_columns(Tenant, "t")}
FROM {users} u
LEFT JOIN ({memberships} m JOIN {tenants} t ON t.{tenant_pk} = m.{member_tenant})
       ON m.{member_user} = u.{user_pk} AND m.{active}
WHERE u.{user_pk} = %(user)s
ORDER BY t.{by_name}, m.{member_pk}"""


class MembershipsBackend(ModelBackend):
    """ModelBackend (same passwords, same rules for inactive users) whose session user comes with their
    memberships on PostgreSQL (elsewhere, and for async callers through aget_user, the user alone, as Django's;
    the memberships are then read by the ORM). Listed first in AUTHENTICATION_BACKENDS, so new sessions name it;
    Django's ModelBackend stays second only so that sessions signed in before keep working."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> AbstractBaseUser | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and password is not None:
            # Wrong credentials: stop here instead of letting the ModelBackend listed after this one hash the
            # password a second time (Django still records the failed login).
            raise PermissionDenied
        return user

    def get_user(self, user_id: Any) -> AbstractBaseUser | None:
        """`user_id` as django.contrib.auth.get_user passes it: the session's value, already the pk's type."""
        if connection.vendor != "postgresql":
            return super().get_user(user_id)
        user_model = get_user_model()
        with connection.cursor() as cursor:
            cursor.execute(*prepared("sac_session_user", _user_sql(), {"user": user_id}))
            rows = cursor.fetchall()
        if not rows:
            return None
        width = len(user_model._meta.concrete_fields)
        user = model_from_row(user_model, rows[0][:width])
        if not self.user_can_authenticate(user):
            return None
        found = []
        for row in rows:
            membership, tenant = models_from_row(row[width:], [(Membership, None), (Tenant, None)])
            if membership is None:  # no active membership: the outer join's one row of NULLs
                continue
            membership.tenant, membership.user = tenant, user
            found.append(membership)
        setattr(user, MEMBERSHIPS_ATTR, found)
        return user
