"""The session's user, read with their memberships in one statement.

Every signed-in page needs both: Django's ModelBackend reads the user (an ORM query), then tenant_view and the
header read the user's memberships with their tenants (another). Built by the ORM, the two cost more Python
than the small pages they serve (measured in-process on the bench database: of the 7 ms of CPU the unread-count
poll takes, 1.9 ms was the user and 1.8 ms the memberships). Here they are one prepared statement and the
instances are built straight from its rows; `sac.selectors.user_memberships` hands the memberships on.
"""

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
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
    # The user's own memberships across tenants: what memberships_for_user reads (active ones, by tenant name).
    return f"""
SELECT {model_columns(user_model, "u")}, {model_columns(Membership, "m")}, {model_columns(Tenant, "t")}
FROM {users} u
LEFT JOIN {memberships} m ON m.user_id = u.id AND m.is_active
LEFT JOIN {tenants} t ON t.id = m.tenant_id
WHERE u.id = %(user)s
ORDER BY t.name, m.id"""


class MembershipsBackend(ModelBackend):
    """ModelBackend (same passwords, same rules for inactive users) whose session user comes with their
    memberships on PostgreSQL. Listed first in AUTHENTICATION_BACKENDS, so new sessions name it; Django's
    ModelBackend stays second only so that sessions signed in before it keep working."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> AbstractBaseUser | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and password is not None:
            # Wrong credentials: stop here instead of letting the ModelBackend listed after this one hash the
            # password a second time (Django still records the failed login).
            raise PermissionDenied
        return user

    def get_user(self, user_id: Any) -> AbstractBaseUser | None:
        if connection.vendor != "postgresql":
            return super().get_user(user_id)
        user_model = get_user_model()
        try:
            pk = user_model._meta.pk.to_python(user_id)
        except ValidationError:  # a session holding something else than an id: a signed-out visitor
            return None
        with connection.cursor() as cursor:
            cursor.execute(*prepared("sac_session_user", _user_sql(), {"user": pk}))
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
            if membership is None:  # no active membership: the LEFT JOIN's one row of NULLs
                continue
            membership.tenant, membership.user = tenant, user
            found.append(membership)
        setattr(user, MEMBERSHIPS_ATTR, found)
        return user
