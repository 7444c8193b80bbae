import pytest
from django.urls import reverse

from inbox.api import CaseViewSet
from sac.api import TenantScopedViewSet
from sac.models import AuditEvent, Role
from sac.services import api_token_create, membership_ensure

from ..conftest import login
from ..factories import open_case


def test_it_sends_anonymous_users_to_the_login_page(client, kit_a):
    response = client.get(reverse("inbox:queue", args=["acme"]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_logs_in_with_the_login_page_and_lands_in_the_inbox(client, kit_a):
    response = client.post(reverse("login"), {"username": "acme-agent", "password": "pw"}, follow=True)
    assert response.status_code == 200
    assert b"Take next case" in response.content


def test_it_shows_a_members_own_inbox(kit_a):
    case = open_case(kit_a)
    response = login(kit_a.agent).get(reverse("inbox:queue", args=["acme"]) + "?view=unassigned")
    assert response.status_code == 200
    assert case.protocol.encode() in response.content


def test_another_tenants_slug_is_a_404_like_a_missing_one(kit_a, kit_b):
    client = login(kit_b.agent)
    assert client.get(reverse("inbox:queue", args=["acme"])).status_code == 404
    assert client.get(reverse("inbox:queue", args=["does-not-exist"])).status_code == 404


def test_an_agent_gets_403_on_admin_pages_of_their_own_tenant(kit_a):
    assert login(kit_a.agent).get(reverse("inbox:canned_list", args=["acme"])).status_code == 403
    assert login(kit_a.admin).get(reverse("inbox:canned_list", args=["acme"])).status_code == 200


def test_a_user_in_two_tenants_picks_one_and_switches(kit_a, kit_b):
    membership_ensure(tenant=kit_b.tenant, username="acme-supervisor", role=Role.AGENT)
    client = login(kit_a.supervisor)
    picker = client.get(reverse("home"))
    assert b"Acme Telecom" in picker.content and b"Beta Bank" in picker.content
    assert client.get(reverse("inbox:queue", args=["beta"])).status_code == 200
    # The role is per tenant: supervisor in Acme, agent in Beta.
    assert b"Supervisor" in client.get(reverse("inbox:queue", args=["acme"])).content
    assert b"Agent" in client.get(reverse("inbox:queue", args=["beta"])).content


def test_the_api_token_decides_the_tenant(client, kit_a, kit_b):
    case_a = open_case(kit_a)
    open_case(kit_b, "Minha fatura veio errada, cobrança indevida!")
    _, secret = api_token_create(membership=kit_b.agent, name="integration")
    response = client.get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    protocols = [row["protocol"] for row in response.json()["results"]]
    assert len(protocols) == 1
    assert client.get(f"/api/v1/cases/{case_a.pk}/", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 404


def test_the_api_refuses_a_missing_or_wrong_token(client, kit_a):
    assert client.get("/api/v1/cases/").status_code == 401
    assert client.get("/api/v1/cases/", HTTP_AUTHORIZATION="Bearer sac_nope").status_code == 401


def test_the_api_schema_is_served(client, db):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/cases/" in response.content


def test_a_viewset_cannot_define_its_own_queryset():
    with pytest.raises(TypeError, match="tenant_queryset"):
        class Unsafe(TenantScopedViewSet):
            def get_queryset(self):
                return CaseViewSet().tenant_queryset(None)


def test_audit_events_record_who_did_what(kit_a):
    case = open_case(kit_a)
    verbs = set(AuditEvent.objects.filter(tenant=kit_a.tenant).values_list("verb", flat=True))
    assert {"tenant.created", "channel.created", "case.opened"} <= verbs
    assert AuditEvent.objects.filter(tenant=kit_a.tenant, object_id=str(case.pk), verb="case.opened").exists()
