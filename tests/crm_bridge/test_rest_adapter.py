"""The generic REST adapter against the fake CRM (HubSpot shapes): lookups, cache, timeouts, 5xx, breaker."""

import time

import pytest
from django.db import connection

from crm_bridge.adapters import CrmRefused, CrmUnavailable, Identity, RestCrm, adapter_for
from crm_bridge.models import CrmConfig

pytestmark = pytest.mark.django_db


def _searches(fake_crm) -> int:
    return len([r for r in fake_crm.requests if r["path"].endswith("/search")])


def test_it_finds_a_contact_by_email_phone_cpf_and_handle(rest_crm, fake_crm):
    crm = adapter_for(rest_crm.tenant_id)
    assert isinstance(crm, RestCrm)
    by_email = crm.lookup(Identity("email", "Mariana.Flores@example.com.br"))
    assert by_email is not None and by_email.name == "Mariana" and by_email.fields["plan"] == "Fibra 500 Mega"
    assert by_email.orders == [{"id": "PED-88121", "title": "Troca de roteador", "status": "entregue"}]
    assert crm.lookup(Identity("phone", "(11) 98765-4321")).ref == by_email.ref
    assert crm.lookup(Identity("document", "529.982.247-25")).ref == by_email.ref
    assert crm.lookup(Identity("handle", "@marianaflores_")).ref == by_email.ref
    assert crm.lookup(Identity("ref", by_email.ref)).email == "mariana.flores@example.com.br"
    assert crm.lookup(Identity("email", "nobody@example.com")) is None
    assert [r.name for r in crm.search("Carol")] == ["Carolina"]


def test_answers_are_cached_with_the_ttl_and_a_config_change_invalidates_them(rest_crm, fake_crm):
    crm = adapter_for(rest_crm.tenant_id)
    crm.lookup(Identity("email", "carol@example.com.br"))
    crm.lookup(Identity("email", "carol@example.com.br"))
    crm.lookup(Identity("email", "nobody@example.com"))
    crm.lookup(Identity("email", "nobody@example.com"))  # "not found" is cached too
    assert _searches(fake_crm) == 2
    rest_crm.field_mapping = {**rest_crm.field_mapping, "segment": "properties.plan"}
    rest_crm.save()
    assert adapter_for(rest_crm.tenant_id).lookup(Identity("email", "carol@example.com.br")).fields["segment"]
    assert _searches(fake_crm) == 3


def test_a_slow_crm_times_out_and_the_breaker_then_answers_at_once(rest_crm, fake_crm):
    fake_crm.delay_seconds = 2
    crm = adapter_for(rest_crm.tenant_id)
    started = time.monotonic()
    for i in range(3):
        with pytest.raises(CrmUnavailable, match="did not answer within 0.4 s"):
            crm.lookup(Identity("email", f"slow{i}@example.com"))
    assert time.monotonic() - started < 2.5  # three timeouts of 0.4 s, never the CRM's 2 s
    before = len(fake_crm.requests)
    started = time.monotonic()
    with pytest.raises(CrmUnavailable, match="failed several times"):
        crm.lookup(Identity("email", "fast@example.com"))
    assert time.monotonic() - started < 0.1 and len(fake_crm.requests) == before


def test_5xx_is_unavailable_and_a_refused_token_is_an_error(rest_crm, fake_crm):
    crm = adapter_for(rest_crm.tenant_id)
    fake_crm.fail_next(503)
    with pytest.raises(CrmUnavailable, match="503"):
        crm.lookup(Identity("email", "carol@example.com.br"))
    assert crm.lookup(Identity("email", "carol@example.com.br")).name == "Carolina"  # the next call works
    CrmConfig.objects.filter(pk=rest_crm.pk).update(auth_header={"name": "X-Api-Key", "value": "nope"})
    with pytest.raises(CrmRefused, match="401"):
        adapter_for(rest_crm.tenant_id).lookup(Identity("email", "jp.silva@example.com.br"))


def test_the_auth_header_is_encrypted_at_rest(rest_crm):
    with connection.cursor() as cursor:
        cursor.execute("SELECT auth_header FROM crm_bridge_crmconfig WHERE id = %s", [rest_crm.pk])
        (raw,) = cursor.fetchone()
    assert "test-secret" not in raw and "Bearer" not in raw
    assert CrmConfig.objects.get(pk=rest_crm.pk).auth_header["value"] == "Bearer test-secret"
