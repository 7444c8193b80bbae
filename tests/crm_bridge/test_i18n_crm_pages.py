"""The CRM pages in the brand's language: a pt-BR brand's people read Portuguese, an English brand's English."""

import pytest
from django.urls import reverse

from crm_bridge.models import CrmCustomer
from tests.conftest import login

pytestmark = pytest.mark.django_db


def _portuguese(kit) -> None:
    kit.tenant.locale = "pt-br"
    kit.tenant.save(update_fields=["locale"])


def test_a_pt_br_admin_reads_the_crm_pages_in_portuguese(kit_a):
    _portuguese(kit_a)
    admin = login(kit_a.admin)
    customers = admin.get(reverse("crm_bridge:customers", args=["acme"]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in ("Clientes", "CRM local", "Novo cliente", "Configurações do CRM", "Telefone", "Nenhum cliente."):
        assert text in customers, text
    settings = admin.get(reverse("crm_bridge:settings", args=["acme"])).content.decode()
    for text in ("O CRM local guarda os clientes no SAC", "CRM REST genérico", "Mapeamento de campos",
                 "Enviar o resumo do caso ao CRM ao resolver"):
        assert text in settings, text
    assert "Generic REST CRM" not in settings
    refused = admin.post(reverse("crm_bridge:settings", args=["acme"]),
                         {"kind": "rest", "base_url": "", "timeout_seconds": "2", "cache_ttl_seconds": "300",
                          "lookups": "{}", "field_mapping": "[1]", "push": "{}"})
    assert refused.status_code == 400
    assert "Mapeamento de campos deve ser um objeto JSON." in refused.content.decode()


def test_a_pt_br_supervisor_gets_customer_errors_and_messages_in_portuguese(kit_a):
    _portuguese(kit_a)
    supervisor = login(kit_a.supervisor)
    url = reverse("crm_bridge:customer_new", args=["acme"])
    form = supervisor.get(url).content.decode()
    assert "Novo cliente" in form and "Referência externa" in form and "Atributos livres em JSON" in form
    bad = supervisor.post(url, {"name": "Otávio", "email": "otavio@"})
    assert bad.status_code == 400 and "não é um endereço de e-mail" in bad.content.decode()
    saved = supervisor.post(url, {"name": "Otávio", "email": "otavio@example.com"}, follow=True).content.decode()
    assert "Cliente salvo." in saved
    assert CrmCustomer.objects.filter(tenant=kit_a.tenant, name="Otávio").exists()

    imported = login(kit_a.admin).post(reverse("crm_bridge:customer_import", args=["acme"]),
                                       {"text": "name,email\nRita,rita@example.com\n,sem-nome@example.com\n"})
    body = imported.content.decode()
    assert imported.status_code == 400 and "linha 3: O nome é obrigatório." in body
    assert "1 criado(s), 0 atualizado(s), 1 linha(s) ignorada(s)." in body


def test_an_english_brand_keeps_english_crm_pages(kit_a):
    admin = login(kit_a.admin)
    customers = admin.get(reverse("crm_bridge:customers", args=["acme"]),
                          HTTP_ACCEPT_LANGUAGE="pt-BR").content.decode()
    assert "New customer" in customers and "No customers." in customers and "Novo cliente" not in customers
    bad = admin.post(reverse("crm_bridge:customer_new", args=["acme"]), {"name": "Ana", "email": "ana@"},
                     HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert "is not an e-mail address" in bad.content.decode()
