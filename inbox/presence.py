"""Who else has a case open, and who is typing: short-lived, so it lives in the cache (Redis), not the database.

Keys start with the tenant (DESIGN.md). Each viewer's page pings every few seconds; an entry
older than PRESENCE_TTL seconds means that person closed the page or lost the connection.
"""

import time
from dataclasses import dataclass

from django.core.cache import cache

from sac.models import Tenant

PRESENCE_TTL = 20


@dataclass(frozen=True)
class Viewer:
    username: str
    typing: bool


def _key(tenant: Tenant, case_id: int) -> str:
    return f"t{tenant.pk}:case:{case_id}:presence"


def presence_touch(*, tenant: Tenant, case_id: int, username: str, typing: bool) -> list[Viewer]:
    """Record this viewer and return the others. Read-modify-write without a lock on purpose:
    a lost update costs one ping of staleness, and the next ping repairs it."""
    now = time.time()
    seen: dict[str, tuple[float, bool]] = cache.get(_key(tenant, case_id)) or {}
    seen = {user: entry for user, entry in seen.items() if now - entry[0] < PRESENCE_TTL}
    seen[username] = (now, typing)
    cache.set(_key(tenant, case_id), seen, timeout=PRESENCE_TTL * 3)
    return [Viewer(user, is_typing) for user, (_, is_typing) in sorted(seen.items()) if user != username]
