"""One mention's whole way: stored, triaged, queued, claimed, answered through the simulator, resolved."""

from datetime import timedelta

import pytest
from django.urls import reverse

from inbox.models import CannedReply, Case, CaseMention, Reply
from inbox.selectors import canned_render
from inbox.services import (
    CaseActionError,
    case_claim_next,
    case_status_change,
    mentions_triage,
    protocol_next,
    reply_create,
    reply_deliver,
)

from ..conftest import login
from ..factories import ingest, mention_item, open_case


def test_triage_opens_a_case_with_protocol_priority_and_deadlines(kit_a):
    case = open_case(kit_a, "@acmetelecom sem internet há 2 dias, vou no Procon!")
    assert case.status == Case.Status.NEW and case.priority >= 80
    assert len(case.protocol) == 15 and case.protocol[8] == "-"
    # SLA subscriber: the clock starts at the customer's message, default policy 60 min / 24 h.
    assert case.first_response_due == case.first_message_at + timedelta(minutes=60)
    assert case.resolution_due == case.first_message_at + timedelta(hours=24)


def test_ignored_mentions_open_no_case_but_are_marked_triaged(kit_a):
    result = ingest(kit_a.channel, [mention_item("kkkkkk meme")])
    assert mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids) == []
    assert not Case.objects.filter(tenant=kit_a.tenant).exists()
    assert mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids) == []  # idempotent


def test_the_customers_next_message_joins_their_open_case(kit_a):
    case = open_case(kit_a, "Sem sinal no centro!", author_id="77")
    result = ingest(kit_a.channel, [mention_item("alguém aí??", author_id="77")])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 1
    assert CaseMention.objects.filter(case=case).count() == 2


def test_protocol_numbers_are_unique_and_sequential_per_tenant(kit_a, kit_b):
    first, second = protocol_next(tenant=kit_a.tenant), protocol_next(tenant=kit_a.tenant)
    assert int(second[-6:]) == int(first[-6:]) + 1
    assert protocol_next(tenant=kit_b.tenant).endswith("-000001")


def test_an_agent_claims_answers_publicly_and_resolves(kit_a):
    case = open_case(kit_a, "@acmetelecom internet caiu de novo, não funciona")
    claimed = case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    assert claimed.pk == case.pk and claimed.assignee == kit_a.agent.user and claimed.status == "open"

    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=claimed, text="Oi! Já estamos vendo.",
                         visibility="public", idempotency_key="k1")
    delivered = reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    assert delivered.state == Reply.State.SENT and delivered.external_id
    sent = [s for s in kit_a.simulator.sent if s["id"] == delivered.external_id]
    assert sent and sent[0]["text"] == "Oi! Já estamos vendo."
    assert sent[0]["in_reply_to_tweet_id"] == reply.in_reply_to.external_id
    case.refresh_from_db()
    assert case.first_response_at is not None

    case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status="resolved")
    case.refresh_from_db()
    assert case.status == "resolved" and case.resolved_at is not None


def test_a_private_reply_goes_to_the_customer_by_direct_message(kit_a):
    case = open_case(kit_a, "meu telefone é (21) 99876-5432, me liguem", author_id="555")
    assert "phone" in case.personal_data
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case.refresh_from_db()
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Vamos falar por DM.",
                         visibility="private", idempotency_key="dm1")
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    dms = [s for s in kit_a.simulator.sent if s["kind"] == "dm" and s["text"] == "Vamos falar por DM."]
    assert dms and dms[0]["participant_id"] == "555"


def test_only_the_assignee_or_a_supervisor_may_reply(kit_a):
    case = open_case(kit_a)
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case.refresh_from_db()
    with pytest.raises(CaseActionError, match="assignee"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent2, case=case, text="oi", visibility="public",
                     idempotency_key="x")
    reply_create(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, text="oi", visibility="public",
                 idempotency_key="y")


def test_a_public_reply_over_280_characters_is_refused_with_the_reason(kit_a):
    case = open_case(kit_a)
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case.refresh_from_db()
    with pytest.raises(CaseActionError, match="281 characters as the network counts them, 280 at most"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="a" * 281, visibility="public",
                     idempotency_key="long")


def test_claim_next_takes_the_most_urgent_first_and_respects_the_cap(kit_a):
    open_case(kit_a, "pergunta: qual o horário da loja?", author_id="1")
    urgent = open_case(kit_a, "sem internet há 3 dias, vou no Procon, absurdo", author_id="2")
    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent).pk == urgent.pk
    kit_a.agent.max_open_cases = 1
    with pytest.raises(CaseActionError, match="open cases"):
        case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)


def test_canned_replies_fill_their_variables(kit_a):
    case = open_case(kit_a, handle="mariana")
    canned = CannedReply.objects.create(tenant=kit_a.tenant, title="t", shortcut="t",
                                        body="Oi {{customer.first_name}}, protocolo {{case.protocol}}. "
                                             "{{agent.first_name}} – {{tenant.name}} {{unknown.var}}")
    text = canned_render(canned, case=case, agent=kit_a.agent.user)
    assert text == f"Oi Mariana, protocolo {case.protocol}. Agent – Acme Telecom {{{{unknown.var}}}}"


def test_the_case_page_shows_the_thread_and_sends_from_the_composer(kit_a):
    case = open_case(kit_a, "@acmetelecom cobrança indevida na fatura")
    client = login(kit_a.agent)
    client.post(reverse("inbox:claim_next", args=["acme"]))
    page = client.get(reverse("inbox:case", args=["acme", case.pk]))
    assert b"cobran\xc3\xa7a indevida" in page.content and case.protocol.encode() in page.content
    response = client.post(reverse("inbox:case_reply", args=["acme", case.pk]),
                           {"text": "Vamos verificar!", "visibility": "public", "idempotency_key": "form-1"})
    assert response.status_code == 302
    response = client.post(reverse("inbox:case_reply", args=["acme", case.pk]),
                           {"text": "Vamos verificar!", "visibility": "public", "idempotency_key": "form-1"})
    assert Reply.objects.filter(tenant=kit_a.tenant, case=case).count() == 1  # a double submit is one reply


def test_an_error_in_the_composer_is_shown_not_a_500(kit_a):
    case = open_case(kit_a)
    client = login(kit_a.agent2)
    response = client.post(reverse("inbox:case_reply", args=["acme", case.pk]),
                           {"text": "oi", "visibility": "public", "idempotency_key": "z"})
    assert response.status_code == 400
    assert b"Only the assignee or a supervisor" in response.content


def test_tenant_admins_edit_the_canned_reply_bank_from_the_product(kit_a):
    client = login(kit_a.admin)
    response = client.post(reverse("inbox:canned_new", args=["acme"]),
                           {"title": "Boas-vindas", "shortcut": "oi", "language": "pt", "body": "Olá!"})
    assert response.status_code == 302
    canned = CannedReply.objects.get(tenant=kit_a.tenant, shortcut="oi")
    client.post(reverse("inbox:canned_edit", args=["acme", canned.pk]),
                {"title": "Boas-vindas", "shortcut": "oi", "language": "pt", "body": "Olá de novo!"})
    canned.refresh_from_db()
    assert canned.body == "Olá de novo!"
    client.post(reverse("inbox:canned_delete", args=["acme", canned.pk]))
    assert not CannedReply.objects.filter(tenant=kit_a.tenant).exists()


def test_triage_with_another_tenants_id_touches_nothing(kit_a, kit_b):
    result = ingest(kit_a.channel, [mention_item("sem internet, não funciona")])
    assert mentions_triage(tenant_id=kit_b.tenant.pk, mention_ids=result.stored_ids) == []
    assert not Case.objects.exists()


def test_the_sweep_triages_mentions_a_crash_left_behind(kit_a):
    from datetime import timedelta

    from django.utils import timezone

    from channels_ingest.models import Mention
    from inbox.tasks import mentions_triage_sweep

    result = ingest(kit_a.channel, [mention_item("cobrança indevida, quero estorno")])
    Mention.objects.filter(pk__in=result.stored_ids).update(received_at=timezone.now() - timedelta(minutes=5))
    assert mentions_triage_sweep.apply().get() == 1
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 1
    assert Mention.objects.get(pk=result.stored_ids[0]).triaged_at is not None


def test_the_case_page_shows_the_sla_panel_registered_by_the_sla_app(kit_a):
    case = open_case(kit_a)
    page = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk]))
    assert b'id="sla-panel"' in page.content and b"60 min to answer" in page.content


def test_taking_a_specific_case_opens_it(kit_a):
    from inbox.services import case_claim

    case = open_case(kit_a)
    case_claim(tenant=kit_a.tenant, membership=kit_a.agent, case=case)
    case.refresh_from_db()
    assert case.assignee == kit_a.agent.user and case.status == Case.Status.OPEN
    with pytest.raises(CaseActionError, match="Someone else"):
        case_claim(tenant=kit_a.tenant, membership=kit_a.agent2, case=case)
