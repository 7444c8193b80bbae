"""A send that may have been posted (5xx or a dropped connection after the request left) is never posted
again blindly: the reply shows "delivery unknown", and SAC looks on the network before any second post."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_ingest.errors import TransientError, retry_countdown
from channels_ingest.models import Platform, SentMessage
from channels_ingest.services import channel_create
from channels_ingest.simulator.graph import PAGE_ID
from inbox.models import Reply
from inbox.services import (
    CaseActionError,
    case_claim_next,
    replies_stale_sweep,
    reply_create,
    reply_deliver,
    reply_outcome_check,
    reply_retry,
)
from sac.models import AuditEvent

from ..factories import open_case


def _claimed_case(kit, text="A internet caiu de novo, não funciona nada!", **kwargs):
    case = open_case(kit, text, **kwargs)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def _posted(kit, text):
    return [s for s in kit.simulator.sent if s["text"] == text]


def _queue(kit, case, text, visibility="public"):
    return reply_create(tenant=kit.tenant, membership=kit.agent, case=case, text=text, visibility=visibility,
                        idempotency_key=text)


@pytest.mark.parametrize("fault", ["error_after_post", "drop_after_post"])
def test_a_reply_posted_before_a_500_or_a_dropped_connection_is_found_and_adopted_not_posted_twice(kit_a, fault):
    case = _claimed_case(kit_a)
    reply = _queue(kit_a, case, f"Já verificamos sua linha ({fault})")
    kit_a.simulator.inject_fault(fault)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)  # no exception: nothing to retry blindly
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and reply.error.startswith("Delivery unknown:")
    assert reply.attempts == 1

    # The agent confirms and presses Send again: SAC still looks on X first, finds the post and adopts it.
    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply, outcome_checked=True)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    posted = _posted(kit_a, reply.text)
    assert len(posted) == 1
    assert reply.state == Reply.State.SENT and reply.external_id == posted[0]["id"] and reply.error == ""
    case.refresh_from_db()
    assert case.first_response_at is not None
    assert SentMessage.objects.filter(tenant=kit_a.tenant, external_id=reply.external_id).exists()
    assert AuditEvent.objects.filter(tenant=kit_a.tenant, verb="reply.adopted").count() == 1


def test_the_automatic_check_marks_a_reply_that_did_go_out_as_sent(kit_a, django_capture_on_commit_callbacks):
    case = _claimed_case(kit_a)
    reply = _queue(kit_a, case, "Resolvido, obrigado pela paciência")
    kit_a.simulator.inject_fault("error_after_post")
    with django_capture_on_commit_callbacks() as queued:
        reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    assert len(queued) == 1  # the look-up is queued for a few seconds later
    reply_outcome_check(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT and reply.external_id == _posted(kit_a, reply.text)[0]["id"]
    assert reply_outcome_check(tenant_id=kit_a.tenant.pk, reply_id=reply.pk) is None  # nothing left to check


def test_a_reply_that_did_not_go_out_stays_unknown_until_the_agent_sends_it_again_once(kit_a):
    case = _claimed_case(kit_a)
    reply = _queue(kit_a, case, "Vamos abrir uma visita técnica")
    kit_a.simulator.inject_fault("server_error")  # a 503: X says nothing about whether it posted
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply_outcome_check(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and reply.error.startswith("Delivery unknown:")
    assert _posted(kit_a, reply.text) == []

    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply, outcome_checked=True)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)  # a duplicated task
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT and len(_posted(kit_a, reply.text)) == 1


def test_a_dm_posted_before_a_dropped_connection_is_adopted(kit_a):
    case = _claimed_case(kit_a, author_id="9001")
    reply = _queue(kit_a, case, "Oi! Pode nos passar o número do contrato?", visibility="private")
    kit_a.simulator.inject_fault("drop_after_post")
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.error.startswith("Delivery unknown:")
    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply, outcome_checked=True)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    dms = _posted(kit_a, reply.text)
    assert len(dms) == 1 and dms[0]["kind"] == "dm"
    assert reply.state == Reply.State.SENT and reply.external_id == dms[0]["id"]


def _in_doubt_and_sent_again(kit, text: str) -> Reply:
    """A reply posted whose answer was lost (delivery unknown), which the agent sends again after checking: the
    next delivery looks for the post first."""
    reply = _queue(kit, _claimed_case(kit), text)
    kit.simulator.inject_fault("drop_after_post")
    reply_deliver(tenant_id=kit.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    return reply_retry(tenant=kit.tenant, membership=kit.agent, reply=reply, outcome_checked=True)


def test_when_the_check_itself_fails_the_reply_keeps_its_unknown_mark(kit_a):
    reply = _in_doubt_and_sent_again(kit_a, "Sua fatura foi corrigida")
    kit_a.simulator.inject_fault("rate_limit")  # the look-up is rate limited
    with pytest.raises(TransientError):
        reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.QUEUED and reply.error.startswith("Delivery unknown:")
    Reply.objects.filter(pk=reply.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT and len(_posted(kit_a, reply.text)) == 1


def test_when_x_refuses_the_check_for_its_credits_the_reply_stays_in_doubt_and_says_why(kit_a):
    reply = _in_doubt_and_sent_again(kit_a, "Seu reembolso foi aprovado")
    kit_a.simulator.inject_fault("credits_depleted")  # the look-up for the post is refused: X's credits are used up

    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)  # fails now: credits do not come back by waiting

    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and reply.error.startswith("Delivery unknown:")
    assert "pay-per-use credits are used up" in reply.error
    assert len(_posted(kit_a, reply.text)) == 1  # posted once, by the first try; never a second time


def test_a_connection_refused_before_sending_is_retried_as_before(kit_a):
    case = _claimed_case(kit_a)
    reply = _queue(kit_a, case, "Estamos verificando")
    port = kit_a.simulator.port
    kit_a.simulator.stop()  # nothing listens: the request never leaves
    with pytest.raises(TransientError, match="unreachable"):
        reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.QUEUED and not reply.error.startswith("Delivery unknown:")
    assert port  # (the simulator fixture stops an already stopped server harmlessly)


def test_a_facebook_comment_reply_posted_before_a_500_is_adopted(kit_a):
    from channels_ingest.connectors import connector_for
    from inbox.services import mentions_triage

    from ..factories import ingest

    sim = kit_a.simulator
    channel = channel_create(tenant=kit_a.tenant, platform=Platform.FACEBOOK, name="Acme no Facebook",
                             external_account_id=PAGE_ID, handle="acme",
                             api_base_url=f"{sim.base_url}/graph/v21.0",
                             credentials={"page_access_token": "page-token"})
    comment = sim.graph.add_comment("O sinal caiu de novo, ninguém resolve!", "Ana Souza")
    result = ingest(channel, [i for i in connector_for(channel).fetch_page().items if i.external_id == comment["id"]])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    case = _claimed_case_on(kit_a, result.stored_ids)
    reply = _queue(kit_a, case, "Oi Ana, já estamos olhando o sinal da sua região.")
    sim.inject_fault("error_after_post")
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.error.startswith("Delivery unknown:")
    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply, outcome_checked=True)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    posted = [s for s in sim.graph.sent if s["text"] == reply.text]
    assert len(posted) == 1
    assert reply.state == Reply.State.SENT and reply.external_id == posted[0]["id"]


def test_a_facebook_private_reply_sent_before_a_dropped_connection_is_adopted(kit_a):
    from channels_ingest.connectors import connector_for
    from inbox.services import mentions_triage

    from ..factories import ingest

    sim = kit_a.simulator
    channel = channel_create(tenant=kit_a.tenant, platform=Platform.FACEBOOK, name="Acme no Facebook",
                             external_account_id=PAGE_ID, handle="acme",
                             api_base_url=f"{sim.base_url}/graph/v21.0",
                             credentials={"page_access_token": "page-token"})
    comment = sim.graph.add_comment("A cobrança veio errada de novo, ninguém resolve!", "Rui Lima")
    result = ingest(channel, [i for i in connector_for(channel).fetch_page().items if i.external_id == comment["id"]])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    case = _claimed_case_on(kit_a, result.stored_ids)
    reply = _queue(kit_a, case, "Oi Rui, pode nos mandar o número do contrato por aqui?", visibility="private")
    sim.inject_fault("drop_after_post")
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and reply.error.startswith("Delivery unknown:")
    reply_outcome_check(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    sent = [s for s in sim.graph.sent if s["text"] == reply.text]
    assert len(sent) == 1
    assert reply.state == Reply.State.SENT and reply.external_id == sent[0]["id"]
    # The comment's one private reply is recorded with that id.
    assert SentMessage.objects.get(tenant=kit_a.tenant, private_reply_to_comment=comment["id"]).external_id \
        == sent[0]["id"]


def _claimed_case_on(kit, mention_ids):
    from inbox.models import Case

    case = Case.objects.get(tenant=kit.tenant, case_mentions__mention_id__in=mention_ids)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def test_a_reply_whose_worker_died_after_posting_is_found_by_the_sweeps_look(kit_a,
                                                                           django_capture_on_commit_callbacks):
    case = _claimed_case(kit_a)
    reply = _queue(kit_a, case, "Prontinho, normalizado!")
    # The post went out, then the worker died before writing down X's answer.
    tweet_id = kit_a.simulator.store.create_tweet(
        {"text": reply.text, "reply": {"in_reply_to_tweet_id": reply.in_reply_to.external_id}})["data"]["id"]
    Reply.objects.filter(pk=reply.pk).update(state=Reply.State.SENDING, attempts=1,
                                             sending_started_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        replies_stale_sweep()
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT and reply.external_id == tweet_id
    assert len(_posted(kit_a, reply.text)) == 1


def test_another_tenant_cannot_check_or_adopt_a_reply(kit_a, kit_b):
    case = _claimed_case(kit_a)
    reply = _queue(kit_a, case, "Só para a Acme")
    kit_a.simulator.inject_fault("error_after_post")
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    assert reply_outcome_check(tenant_id=kit_b.tenant.pk, reply_id=reply.pk) is None
    reply.refresh_from_db()
    with pytest.raises(CaseActionError):
        reply_retry(tenant=kit_b.tenant, membership=kit_b.agent, reply=reply)
    assert reply.state == Reply.State.FAILED


def test_a_rate_limit_reset_sets_the_task_countdown():
    assert retry_countdown(TransientError("429", retry_after_seconds=90), 0) == 91
    assert 5 <= retry_countdown(TransientError("timeout"), 3) <= 40
