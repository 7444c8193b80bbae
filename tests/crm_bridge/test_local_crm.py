"""The local CRM: records edited in the UI, CSV import, search, linking from the case page; tenancy."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm_bridge.models import CrmCustomer, IdentityLink
from tests.conftest import login
from tests.factories import open_case

pytestmark = pytest.mark.django_db

CSV = """name,email,phone,document,external_ref,plan
Rita Fernandes,rita@example.com.br,(11) 91234-5678,529.982.247-25,C-1,Fibra 300
Sem Email,,,,C-2,
,nobody@example.com,,,C-3,
Bad Doc,bad@example.com,,123,C-4,
"""


def test_an_admin_imports_customers_and_bad_rows_are_reported_by_line(kit_a):
    client = login(kit_a.admin)
    page = client.post("/t/acme/crm/customers/import/", {"file": SimpleUploadedFile("c.csv", CSV.encode())})
    body = page.content.decode()
    assert page.status_code == 400 and "line 4" in body and "line 5" in body
    rita = CrmCustomer.objects.get(tenant=kit_a.tenant, external_ref="C-1")
    assert (rita.phone, rita.document, rita.attributes) == ("11912345678", "52998224725", {"plan": "Fibra 300"})
    client.post("/t/acme/crm/customers/import/", {"text": "name,external_ref,plan\nRita F.,C-1,Fibra 500\n"})
    rita.refresh_from_db()
    assert rita.name == "Rita F." and CrmCustomer.objects.filter(tenant=kit_a.tenant).count() == 2
    assert login(kit_a.supervisor).post("/t/acme/crm/customers/import/", {"text": CSV}).status_code == 403


def test_a_supervisor_edits_a_record_and_agents_search_it(kit_a):
    sup = login(kit_a.supervisor)
    sup.post("/t/acme/crm/customers/new/", {"name": "Otávio Lima", "email": "OTAVIO@example.com", "phone": "",
                                            "document": "", "external_ref": "", "attributes": '{"vip": true}'})
    otavio = CrmCustomer.objects.get(tenant=kit_a.tenant)
    assert otavio.email == "otavio@example.com" and otavio.attributes == {"vip": True}
    bad = sup.post(f"/t/acme/crm/customers/{otavio.pk}/", {"name": "Otávio", "email": "not-an-email",
                                                           "attributes": "{}"})
    assert bad.status_code == 400 and "not an e-mail" in bad.content.decode()
    assert "Otávio Lima" in login(kit_a.agent).get("/t/acme/crm/", {"q": "otavio@"}).content.decode()
    assert login(kit_a.agent).post(f"/t/acme/crm/customers/{otavio.pk}/", {"name": "x"}).status_code == 403


def test_the_local_crm_suggests_from_a_cpf_in_the_post_and_links(kit_a):
    CrmCustomer.objects.create(tenant=kit_a.tenant, name="Rita Fernandes", document="52998224725",
                               attributes={"orders": [{"id": "PED-1", "title": "Chip novo", "status": "enviado"}]})
    case = open_case(kit_a, "@acme cobrança indevida de novo! meu CPF é 529.982.247-25, quero estorno")
    agent = login(kit_a.agent)
    panel = agent.get(f"/t/acme/crm/cases/{case.pk}/panel/").content.decode()
    assert "Suggested (same document)" in panel and "Rita Fernandes" in panel and "Chip novo" in panel
    customer = CrmCustomer.objects.get(tenant=kit_a.tenant)
    agent.post(f"/t/acme/crm/cases/{case.pk}/link/", {"ref": f"local:{customer.pk}"})
    assert IdentityLink.objects.get(tenant=kit_a.tenant).crm_ref == f"local:{customer.pk}"
    assert "Linked to <strong>Rita Fernandes</strong>" in agent.get(f"/t/acme/crm/cases/{case.pk}/panel/").content \
        .decode()


def test_tenant_b_cannot_see_link_or_edit_tenant_as_customers(kit_a, kit_b):
    secret = CrmCustomer.objects.create(tenant=kit_a.tenant, name="secret A", email="a@example.com")
    case_b = open_case(kit_b)
    b = login(kit_b.admin)
    assert b.get(f"/t/beta/crm/customers/{secret.pk}/").status_code == 404
    assert b.post(f"/t/beta/crm/customers/{secret.pk}/", {"name": "stolen"}).status_code == 404
    assert "secret A" not in b.get("/t/beta/crm/", {"q": "secret"}).content.decode()
    # Linking B's case to A's record by its ref: A's record is not found in B's CRM.
    b.post(f"/t/beta/crm/cases/{case_b.pk}/link/", {"ref": f"local:{secret.pk}"})
    assert not IdentityLink.objects.exists()
    assert "secret A" not in b.get(f"/t/beta/crm/cases/{case_b.pk}/panel/", {"q": "secret"}).content.decode()
    secret.refresh_from_db()
    assert secret.name == "secret A"
