"""The session's user and their memberships in one statement (sac.backends), and the online mark renewed now and
then instead of on every request (sac.tenancy)."""

from importlib import import_module
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sac import tenancy
from sac.models import Membership, Role
from sac.services import membership_ensure

from ..conftest import login


def _user_statements(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries
            if "auth_user" in q["sql"] or "sac_membership" in q["sql"] or "sac_session_user" in q["sql"]]


def test_a_page_reads_the_user_and_their_memberships_in_one_statement(kit_a, kit_b):
    membership_ensure(tenant=kit_b.tenant, username="acme-supervisor", role=Role.AGENT)
    client = login(kit_a.supervisor)
    client.get(reverse("inbox:queue", args=["acme"]))  # the connection's first page PREPAREs the statement
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(reverse("inbox:queue", args=["acme"]))
    assert page.status_code == 200
    assert len(_user_statements(ctx)) == 1, _user_statements(ctx)
    # The header's tenant switcher lists both of this user's tenants, by name, and the role is this tenant's.
    html = page.content.decode()
    assert html.index("Acme Telecom") < html.index("Beta Bank")
    assert "Supervisor" in html
    assert b"Agent" in client.get(reverse("inbox:queue", args=["beta"])).content


def test_a_user_in_no_tenant_is_signed_in_and_sees_none(kit_a):
    outsider = type(kit_a.agent.user).objects.create_user("outsider", password="pw")
    client = Client()
    client.force_login(outsider)
    with CaptureQueriesContext(connection) as ctx:
        picker = client.get(reverse("home"))
    assert picker.status_code == 200 and b"outsider" in picker.content and b"Acme Telecom" not in picker.content
    # Their (no) memberships came with the user: none read again by the ORM.
    assert not [q for q in ctx.captured_queries if "sac_membership" in q["sql"] and not q["sql"].startswith("PREPARE")]
    assert client.get(reverse("inbox:queue", args=["acme"])).status_code == 404


def test_another_tenants_pages_stay_a_404(kit_a, kit_b):
    client = login(kit_a.agent)
    assert client.get(reverse("inbox:queue", args=["beta"])).status_code == 404
    assert b"Beta Bank" not in client.get(reverse("home"), follow=True).content


def test_a_deactivated_membership_or_user_loses_access_on_their_next_request(kit_a, kit_b):
    membership_ensure(tenant=kit_b.tenant, username="acme-agent", role=Role.AGENT)
    client = login(kit_a.agent)
    assert client.get(reverse("inbox:queue", args=["beta"])).status_code == 200
    Membership.objects.filter(tenant=kit_b.tenant, user=kit_a.agent.user).update(is_active=False)
    assert client.get(reverse("inbox:queue", args=["beta"])).status_code == 404
    assert b"Beta Bank" not in client.get(reverse("inbox:queue", args=["acme"])).content
    type(kit_a.agent.user).objects.filter(pk=kit_a.agent.user_id).update(is_active=False)
    response = client.get(reverse("inbox:queue", args=["acme"]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_changed_password_signs_the_old_session_out(kit_a):
    client = login(kit_a.agent)
    user = kit_a.agent.user
    user.set_password("new password")
    user.save()
    response = client.get(reverse("inbox:queue", args=["acme"]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_sessions_signed_in_before_with_djangos_model_backend_keep_working(kit_a):
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(kit_a.agent.user_id)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = kit_a.agent.user.get_session_auth_hash()
    store.create()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    assert client.get(reverse("inbox:queue", args=["acme"])).status_code == 200


def test_a_wrong_password_is_refused_after_one_check(kit_a):
    failed = []

    def record(**kwargs):  # noqa: ANN003, ANN202
        failed.append(kwargs["credentials"]["username"])

    user_login_failed.connect(record)
    try:
        with mock.patch.object(AbstractBaseUser, "check_password", autospec=True,
                               side_effect=AbstractBaseUser.check_password) as check:
            page = Client().post(reverse("login"), {"username": "acme-agent", "password": "wrong"},
                                     HTTP_ACCEPT_LANGUAGE="en")
    finally:
        user_login_failed.disconnect(record)
    assert page.status_code == 200 and b"didn't match" in page.content
    assert check.call_count == 1  # not once more by the ModelBackend listed after sac's
    assert failed == ["acme-agent"]
    assert Client().post(reverse("login"), {"username": "acme-agent", "password": "pw"}).status_code == 302


@pytest.fixture
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_pages_keep_an_agent_online_renewing_the_mark_every_half_minute(kit_a, kit_b, empty_cache):
    client = login(kit_a.agent)
    url = reverse("inbox:queue", args=["acme"])
    client.get(url)
    assert tenancy.online_user_ids(kit_a.tenant, [kit_a.agent.user_id]) == {kit_a.agent.user_id}
    assert tenancy.online_user_ids(kit_b.tenant, [kit_a.agent.user_id]) == set()  # online in Acme only
    cache.clear()  # as if the mark had expired: the next poll within 30 s does not renew it...
    client.get(url)
    assert tenancy.online_user_ids(kit_a.tenant, [kit_a.agent.user_id]) == set()
    key = (kit_a.tenant.pk, kit_a.agent.user_id)
    tenancy._marked_at[key] -= tenancy.MARK_EVERY_SECONDS  # as if the last renewal were 30 s old
    client.get(url)  # ...the first one after it does
    assert tenancy.online_user_ids(kit_a.tenant, [kit_a.agent.user_id]) == {kit_a.agent.user_id}
