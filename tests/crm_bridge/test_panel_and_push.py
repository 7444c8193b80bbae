"""The CRM panel beside the thread, identity links, and the case summary pushed exactly once per state."""

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from crm_bridge import tasks
from crm_bridge.models import CrmPush, IdentityLink
from crm_bridge.services import crm_push_deliver
from inbox.services import case_status_change
from sac.models import AuditEvent
from surveys.services import survey_config_ensure
from tests.conftest import login
from tests.factories import open_case

pytestmark = pytest.mark.django_db

EMAIL_POST = "@acme sem internet há 2 dias!! meu email é carol@example.com.br, resolvam"


def _ref(fake_crm, email: str) -> str:
    return next(c["id"] for c in fake_crm.store.contacts.values() if c["properties"]["email"] == email)


def _resolve(kit, case):
    return case_status_change(tenant=kit.tenant, membership=kit.supervisor, case=case, new_status="resolved")


def test_what_the_customer_wrote_suggests_the_link_and_the_agent_links_it(kit_a, rest_crm, fake_crm):
    case = open_case(kit_a, EMAIL_POST, author_id="3001", handle="carolzinha")
    agent = login(kit_a.agent)
    page = agent.get(f"/t/acme/cases/{case.pk}/")
    assert f"/t/acme/crm/cases/{case.pk}/panel/" in page.content.decode()  # loaded after the page
    panel = agent.get(f"/t/acme/crm/cases/{case.pk}/panel/").content.decode()
    assert "Suggested (same email)" in panel and "Carolina" in panel and "Empresarial 1 Giga" in panel
    assert "Visita técnica" in panel  # recent orders / tickets from the CRM
    ref = _ref(fake_crm, "carol@example.com.br")
    linked = agent.post(f"/t/acme/crm/cases/{case.pk}/link/", {"ref": ref, "how": "suggested:email"},
                        HTTP_HX_REQUEST="true").content.decode()
    assert "Linked to <strong>Carolina</strong>" in linked
    link = IdentityLink.objects.get(tenant=kit_a.tenant, profile=case.customer)
    assert (link.crm_ref, link.linked_by, link.how) == (ref, kit_a.agent.user, "suggested:email")
    assert AuditEvent.objects.filter(tenant=kit_a.tenant, verb="crm.identity_linked").count() == 1


def test_an_agent_searches_the_crm_from_the_case_and_links_by_hand(kit_a, rest_crm, fake_crm):
    case = open_case(kit_a)
    agent = login(kit_a.agent)
    html = agent.get(f"/t/acme/crm/cases/{case.pk}/panel/", {"q": "jp.silva@example.com.br"}).content.decode()
    assert "João Pedro" in html
    ref = _ref(fake_crm, "jp.silva@example.com.br")
    agent.post(f"/t/acme/crm/cases/{case.pk}/link/", {"ref": ref})
    assert IdentityLink.objects.get(tenant=kit_a.tenant, profile=case.customer).display_name == "João Pedro"
    agent.post(f"/t/acme/crm/cases/{case.pk}/unlink/")
    assert not IdentityLink.objects.filter(tenant=kit_a.tenant).exists()


def test_a_down_crm_never_slows_the_case_page_and_the_panel_says_unavailable(kit_a, rest_crm, fake_crm):
    case = open_case(kit_a, EMAIL_POST)
    fake_crm.delay_seconds = 3
    agent = login(kit_a.agent)
    before = len(fake_crm.requests)
    started = time.monotonic()
    assert agent.get(f"/t/acme/cases/{case.pk}/").status_code == 200
    assert time.monotonic() - started < 1.0 and len(fake_crm.requests) == before
    started = time.monotonic()
    panel = agent.get(f"/t/acme/crm/cases/{case.pk}/panel/")
    assert panel.status_code == 200 and "CRM unavailable" in panel.content.decode()
    assert time.monotonic() - started < 2.0  # one timeout (0.4 s) per lookup at most, then the breaker
    fake_crm.delay_seconds = 0
    fake_crm.fail_next(500, 5)
    assert "CRM unavailable" in agent.get(f"/t/acme/crm/cases/{case.pk}/panel/").content.decode()


def test_the_summary_is_pushed_once_on_resolve_and_again_once_when_the_csat_arrives(
        kit_a, rest_crm, fake_crm, django_capture_on_commit_callbacks):
    survey_config_ensure(tenant=kit_a.tenant, delay_minutes=0)
    case = open_case(kit_a, EMAIL_POST)
    ref = _ref(fake_crm, "carol@example.com.br")
    login(kit_a.agent).post(f"/t/acme/crm/cases/{case.pk}/link/", {"ref": ref})
    with django_capture_on_commit_callbacks(execute=True):
        _resolve(kit_a, case)
    assert len(fake_crm.pushes) == 1
    push = CrmPush.objects.get(tenant=kit_a.tenant, case=case)
    assert push.state == "sent" and push.external_id == fake_crm.pushes[0]["id"]
    body = fake_crm.pushes[0]["body"]
    assert case.protocol in body["properties"]["hs_note_body"] and body["associations"][0]["to"]["id"] == ref
    assert f"/t/acme/cases/{case.pk}/" in body["properties"]["hs_note_body"]
    # A duplicated task, the sweep and a late retry: still one note in the CRM.
    assert crm_push_deliver(tenant_id=kit_a.tenant.pk, push_id=push.pk) is None
    tasks.crm_push_deliver.delay(kit_a.tenant.pk, push.pk)
    assert tasks.crm_pushes_sweep.delay().get() == 0
    assert len(fake_crm.pushes) == 1

    token = re.search(r"/s/([\w-]+)", kit_a.simulator.sent[-1]["text"]).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(f"/s/{token}", {"csat": "5", "nps": "9"})
    assert len(fake_crm.pushes) == 2
    assert "CSAT 5, NPS 9" in fake_crm.pushes[1]["body"]["properties"]["hs_note_body"]


def _linked_resolved_push(kit, fake_crm) -> CrmPush:
    case = open_case(kit, EMAIL_POST)
    login(kit.agent).post(f"/t/acme/crm/cases/{case.pk}/link/", {"ref": _ref(fake_crm, "carol@example.com.br")})
    _resolve(kit, case)  # no on-commit here: the task is not queued, like a lost broker message
    return CrmPush.objects.get(tenant=kit.tenant, case=case)


def test_a_5xx_after_the_crm_stored_the_note_is_delivery_unknown_never_resent(kit_a, rest_crm, fake_crm):
    push = _linked_resolved_push(kit_a, fake_crm)
    fake_crm.fail_next(502, after_processing=True)  # the note is stored, the gateway answers 502
    crm_push_deliver(tenant_id=kit_a.tenant.pk, push_id=push.pk)  # nothing to retry
    push.refresh_from_db()
    assert push.state == "failed" and push.error.startswith("Delivery unknown:") and "502" in push.error
    CrmPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    assert tasks.crm_pushes_sweep.delay().get() == 0
    assert len(fake_crm.pushes) == 1


def test_a_crm_that_honours_the_idempotency_key_gets_the_retry_and_keeps_one_note(kit_a, rest_crm, fake_crm):
    rest_crm.push = {**rest_crm.push, "idempotent": True}
    rest_crm.save(update_fields=["push"])
    push = _linked_resolved_push(kit_a, fake_crm)
    fake_crm.fail_next(503, after_processing=True)
    from channels_ingest.errors import TransientError

    with pytest.raises(TransientError):
        crm_push_deliver(tenant_id=kit_a.tenant.pk, push_id=push.pk)
    push.refresh_from_db()
    assert push.state == "queued" and "503" in push.error and push.next_attempt_at > timezone.now()
    assert tasks.crm_pushes_sweep.delay().get() == 0  # not due yet
    CrmPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.crm_pushes_sweep.delay().get() == 1
    push.refresh_from_db()
    # The CRM dropped the repeated key: one note, and the push knows its id.
    assert push.state == "sent" and push.attempts == 2 and len(fake_crm.pushes) == 1
    assert push.external_id == fake_crm.pushes[0]["id"]


def test_a_429_waits_for_the_crms_retry_after(kit_a, rest_crm, fake_crm):
    push = _linked_resolved_push(kit_a, fake_crm)
    fake_crm.fail_next(429, retry_after=120)  # refused before anything was stored
    from channels_ingest.errors import TransientError

    with pytest.raises(TransientError) as raised:
        crm_push_deliver(tenant_id=kit_a.tenant.pk, push_id=push.pk)
    assert raised.value.retry_after_seconds == 120
    push.refresh_from_db()
    assert push.state == "queued" and push.next_attempt_at > timezone.now() + timedelta(seconds=100)
    assert tasks.crm_pushes_sweep.delay().get() == 0
    assert crm_push_deliver(tenant_id=kit_a.tenant.pk, push_id=push.pk) is None
    CrmPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.crm_pushes_sweep.delay().get() == 1
    push.refresh_from_db()
    assert push.state == "sent" and len(fake_crm.pushes) == 1


def test_the_csat_push_commits_with_the_answer_even_if_nothing_runs_after_commit(
        kit_a, rest_crm, fake_crm, django_capture_on_commit_callbacks):
    survey_config_ensure(tenant=kit_a.tenant, delay_minutes=0)
    case = open_case(kit_a, EMAIL_POST, author_id="3001")
    login(kit_a.agent).post(f"/t/acme/crm/cases/{case.pk}/link/", {"ref": _ref(fake_crm, "carol@example.com.br")})
    with django_capture_on_commit_callbacks(execute=True):
        _resolve(kit_a, case)
    token = re.search(r"/s/([\w-]+)", kit_a.simulator.sent[-1]["text"]).group(1)
    # The process dies right after the answer commits: no on-commit callback ever runs.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Client().post(f"/s/{token}", {"csat": "2", "nps": "3"})
    assert callbacks  # the push task would have been queued here
    push = CrmPush.objects.get(tenant=kit_a.tenant, case=case, state_key__startswith="survey-")
    assert push.state == "queued" and push.payload == {"csat": 2, "nps": 3}
    assert tasks.crm_pushes_sweep.delay().get() == 1  # the sweep sends what the crash left behind
    assert "CSAT 2, NPS 3" in fake_crm.pushes[-1]["body"]["properties"]["hs_note_body"]


def test_an_unlinked_customer_is_not_pushed_and_says_why(kit_a, rest_crm, fake_crm,
                                                         django_capture_on_commit_callbacks):
    case = open_case(kit_a)
    with django_capture_on_commit_callbacks(execute=True):
        _resolve(kit_a, case)
    push = CrmPush.objects.get(tenant=kit_a.tenant, case=case)
    assert push.state == "failed" and "not linked" in push.error and fake_crm.pushes == []


def test_a_push_task_carrying_another_tenants_id_does_nothing(kit_a, kit_b, rest_crm, fake_crm):
    case = open_case(kit_a, EMAIL_POST)
    login(kit_a.agent).post(f"/t/acme/crm/cases/{case.pk}/link/", {"ref": _ref(fake_crm, "carol@example.com.br")})
    _resolve(kit_a, case)
    push = CrmPush.objects.get(tenant=kit_a.tenant, case=case)
    tasks.crm_push_deliver.delay(kit_b.tenant.pk, push.pk)
    push.refresh_from_db()
    assert push.state == "queued" and fake_crm.pushes == []


def test_a_push_that_times_out_after_leaving_is_never_resent(kit_a, rest_crm, fake_crm):
    case = open_case(kit_a, EMAIL_POST)
    login(kit_a.agent).post(f"/t/acme/crm/cases/{case.pk}/link/", {"ref": _ref(fake_crm, "carol@example.com.br")})
    _resolve(kit_a, case)
    push = CrmPush.objects.get(tenant=kit_a.tenant, case=case)
    fake_crm.delay_seconds = 1
    crm_push_deliver(tenant_id=kit_a.tenant.pk, push_id=push.pk)
    push.refresh_from_db()
    assert push.state == "failed" and "may have recorded it" in push.error
    fake_crm.delay_seconds = 0
    assert tasks.crm_pushes_sweep.delay().get() == 0
    time.sleep(0.7)  # the fake CRM finished the slow request meanwhile: exactly the one note
    assert len(fake_crm.pushes) == 1
