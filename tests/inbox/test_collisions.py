"""Two people on one case: each sees the other, and nobody answers a conversation they have not read."""


import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from inbox.models import Reply
from inbox.services import ThreadChanged, case_claim_next, mentions_triage, reply_create

from ..conftest import login
from ..factories import ingest, mention_item, open_case


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def _claimed(kit, **kwargs):
    case = open_case(kit, **kwargs)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def test_a_new_customer_message_stops_the_send_until_the_agent_has_seen_it(kit_a):
    case = _claimed(kit_a, author_id="31")
    opened = timezone.now()
    result = ingest(kit_a.channel, [mention_item("alô? ainda sem sinal!", author_id="31")])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    with pytest.raises(ThreadChanged, match="the customer wrote 1 new message"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Oi!", visibility="public",
                     idempotency_key="c1", seen_at=opened)
    assert not Reply.objects.filter(case=case).exists()
    reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Oi!", visibility="public",
                 idempotency_key="c1", seen_at=timezone.now())
    assert Reply.objects.filter(case=case).count() == 1


def test_a_colleagues_reply_stops_the_send_and_is_shown(kit_a):
    case = _claimed(kit_a)
    opened = timezone.now()
    reply_create(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, text="Já resolvemos por aqui",
                 visibility="public", idempotency_key="sup")
    with pytest.raises(ThreadChanged, match="acme-supervisor replied: “Já resolvemos por aqui”"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Oi!", visibility="public",
                     idempotency_key="c2", seen_at=opened)


def test_the_case_page_keeps_the_draft_and_lets_the_agent_send_after_reading(kit_a):
    case = _claimed(kit_a, author_id="32")
    client = login(kit_a.agent)
    opened = timezone.now().isoformat()
    result = ingest(kit_a.channel, [mention_item("e aí??", author_id="32")])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    url = reverse("inbox:case_reply", args=["acme", case.pk])
    response = client.post(url, {"text": "Rascunho cuidadoso", "visibility": "public", "idempotency_key": "d1",
                                 "seen_at": opened})
    assert response.status_code == 400
    assert b"the customer wrote 1 new message" in response.content and b"Rascunho cuidadoso" in response.content
    assert b"e a\xc3\xad??" in response.content  # the new message is in the thread shown
    seen = response.context["reply_form"]["seen_at"].value()
    response = client.post(url, {"text": "Rascunho cuidadoso", "visibility": "public", "idempotency_key": "d1",
                                 "seen_at": seen})
    assert response.status_code == 302
    assert Reply.objects.filter(case=case).count() == 1


def test_each_viewer_sees_who_else_is_on_the_case_and_who_types(kit_a):
    case = _claimed(kit_a)
    url = reverse("inbox:case_presence", args=["acme", case.pk])
    agent, supervisor = login(kit_a.agent), login(kit_a.supervisor)
    assert b"is viewing" not in agent.post(url, {"typing": "1"}).content
    seen_by_supervisor = supervisor.post(url, {"typing": "0"}).content
    assert b"acme-agent</strong> is typing a reply" in seen_by_supervisor
    assert b"acme-supervisor</strong> is viewing this case" in agent.post(url, {"typing": "0"}).content


def test_presence_is_kept_per_tenant(kit_a, kit_b):
    case = _claimed(kit_a)
    login(kit_a.agent).post(reverse("inbox:case_presence", args=["acme", case.pk]), {"typing": "1"})
    assert login(kit_b.agent).post(reverse("inbox:case_presence", args=["beta", case.pk])).status_code == 404
