from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inbox.models import Case, Reply
from inbox.services import (
    CaseActionError,
    case_claim_next,
    case_handoff_private,
    case_status_change,
    cases_auto_close,
    reply_create,
    reply_deliver,
    reply_retry,
)

from ..conftest import login
from ..factories import open_case


def _claimed(kit, text="meu telefone é (11) 98765-4321, a internet não funciona", **kwargs):
    case = open_case(kit, text, **kwargs)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def test_one_click_handoff_answers_publicly_and_opens_the_private_conversation(kit_a):
    case = _claimed(kit_a, author_id="901")
    public, private = case_handoff_private(tenant=kit_a.tenant, membership=kit_a.agent, case=case,
                                           public_text="Te mandamos DM!", private_text="Oi, conta mais por aqui?",
                                           idempotency_key="h1")
    for reply in (private, public):  # the public answer waits for the DM it announces
        reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    sent = {s["kind"]: s for s in kit_a.simulator.sent}
    assert sent["reply"]["text"] == "Te mandamos DM!"
    assert sent["dm"]["text"] == "Oi, conta mais por aqui?" and sent["dm"]["participant_id"] == "901"


def test_the_case_page_offers_the_handoff_open_when_personal_data_was_found(kit_a):
    case = _claimed(kit_a, handle="joana")
    page = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk]))
    assert b'<details class="card handoff" id="handoff" open>' in page.content
    assert f"Seu protocolo é {case.protocol}".encode() in page.content
    response = login(kit_a.agent).post(reverse("inbox:case_handoff", args=["acme", case.pk]),
                                       {"public_text": "DM enviada", "private_text": "Olá", "idempotency_key": "k"})
    assert response.status_code == 302
    assert set(Reply.objects.filter(case=case).values_list("visibility", flat=True)) == {"public", "private"}


def test_a_failed_reply_is_sent_again_as_the_same_row(kit_a):
    case = _claimed(kit_a)
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Tentativa",
                         visibility="public", idempotency_key="r1")
    Reply.objects.filter(pk=reply.pk).update(state=Reply.State.FAILED, error="X answered 400: boom")
    reply.refresh_from_db()
    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT
    assert [s["text"] for s in kit_a.simulator.sent] == ["Tentativa"]
    with pytest.raises(CaseActionError, match="Only a failed reply"):
        reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply)


def test_a_reply_whose_outcome_is_unknown_needs_the_agent_to_check_first(kit_a):
    case = _claimed(kit_a)
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Talvez enviado",
                         visibility="public", idempotency_key="r2")
    Reply.objects.filter(pk=reply.pk).update(state=Reply.State.FAILED,
                                             error="Delivery unknown: X did not answer in time")
    reply.refresh_from_db()
    with pytest.raises(CaseActionError, match="check the conversation there"):
        reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply)
    page = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk]))
    assert b"I checked: it is not there" in page.content
    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply, outcome_checked=True)
    reply.refresh_from_db()
    assert reply.state == Reply.State.QUEUED


def test_resolved_cases_close_for_good_after_the_window(kit_a):
    old, recent = _claimed(kit_a, author_id="1"), _claimed(kit_a, author_id="2")
    for case in (old, recent):
        case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status="resolved")
    Case.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(days=8))
    assert cases_auto_close(older_than=timedelta(days=7)) == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == "closed" and recent.status == "resolved"
    with pytest.raises(CaseActionError, match="cannot become open"):
        case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=old, new_status="open")
