"""The state of a login in progress, kept server-side in the admin's session.

One redirect URI per network for the whole installation (/channels/oauth/<network>/callback/), not one per
tenant: X and Meta only send the browser back to redirect URIs registered exactly in the app settings, and a
per-tenant URI would mean registering every new tenant there. The tenant comes from the stored state instead,
and the callback checks again that the user is an admin of it. A state is random, single-use, expires, and
lives in the session of the user who started the login, so a state from another browser (or tenant) is
unknown here.
"""

import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

from django.utils.translation import gettext as _

from sac.crypto import decrypt_json, encrypt_json

from .errors import OAuthError

SESSION_KEY = "sac_oauth_flows"
PENDING_PAGES_KEY = "sac_oauth_facebook_pages"
FLOW_TTL_SECONDS = 600
MAX_FLOWS = 5  # an admin who opens several tabs; older ones are dropped


@dataclass(frozen=True)
class Flow:
    network: str
    tenant_id: int
    user_id: int
    redirect_uri: str
    verifier: str = ""
    created_at: float = 0.0


def flow_begin(session: Any, *, network: str, tenant_id: int, user_id: int, redirect_uri: str,
               verifier: str = "") -> str:
    """Store a new login and return its state parameter."""
    state = secrets.token_urlsafe(32)
    flows = {k: v for k, v in (session.get(SESSION_KEY) or {}).items()
             if v.get("created_at", 0) > time.time() - FLOW_TTL_SECONDS}
    flows = dict(sorted(flows.items(), key=lambda kv: kv[1]["created_at"])[-(MAX_FLOWS - 1):])
    flows[state] = asdict(Flow(network=network, tenant_id=tenant_id, user_id=user_id, redirect_uri=redirect_uri,
                               verifier=verifier, created_at=time.time()))
    session[SESSION_KEY] = flows
    return state


def flow_finish(session: Any, *, network: str, state: str, user_id: int) -> Flow:
    """Take (and forget) the login this state names. Unknown, replayed, expired or foreign states are refused."""
    flows = dict(session.get(SESSION_KEY) or {})
    stored = flows.pop(state, None) if state else None
    session[SESSION_KEY] = flows
    if stored is None:
        raise OAuthError(_("This sign-in answer is unknown or was already used. Start again from the Connect page."))
    flow = Flow(**stored)
    if flow.network != network or flow.user_id != user_id:
        raise OAuthError(_("This sign-in answer belongs to another login. Start again from the Connect page."))
    if flow.created_at < time.time() - FLOW_TTL_SECONDS:
        raise OAuthError(_("This sign-in took too long and expired. Start again from the Connect page."))
    return flow


def pages_keep(session: Any, *, tenant_id: int, user_id: int, pages: list[dict[str, str]]) -> None:
    """The pages (with their page tokens) the admin may pick from: encrypted, since sessions sit in the database."""
    session[PENDING_PAGES_KEY] = encrypt_json({"tenant_id": tenant_id, "user_id": user_id, "pages": pages,
                                               "created_at": time.time()})


def pages_pending(session: Any, *, tenant_id: int, user_id: int) -> list[dict[str, str]]:
    raw = session.get(PENDING_PAGES_KEY)
    if not raw:
        return []
    pending = decrypt_json(raw)
    if pending.get("tenant_id") != tenant_id or pending.get("user_id") != user_id \
            or pending.get("created_at", 0) < time.time() - FLOW_TTL_SECONDS:
        return []
    return list(pending.get("pages") or [])


def pages_forget(session: Any) -> None:
    session.pop(PENDING_PAGES_KEY, None)
