"""A private reply to a comment whose send ended in doubt (a 500 or a dropped connection after Meta stored it) is
found on the network instead of sent again, and still learns whom it reached: the customer's page-scoped id,
which the Send API's answer would have named, is read from the conversation it was found in (its `participants`,
its message's `to`; Graph's conversation reference and the recorded conversation in
../shared/fixtures/facebook/python_facebook/facebook/models/conversation.json). So the customer's Messenger answer
still continues the case, as after a clean send. Against the loopback simulator's Graph page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_ingest.models import Mention, Platform, SentMessage
from channels_ingest.services import channel_create, private_reply_reserve
from inbox.models import Case, Reply
from inbox.services import (
    case_claim,
    case_claim_next,
    case_handoff_private,
    replies_stale_sweep,
    reply_create,
    reply_deliver,
    reply_outcome_check,
    reply_retry,
)

from . import test_handoff_private_link as private_link

_poll = private_link._poll
page = private_link.page  # the same fixture: a Facebook page channel with a customer's comment, its case claimed

pytestmark = pytest.mark.django_db

PRIVATE_TEXT = "Oi! Aqui é do atendimento, conta mais por aqui?"


def _handoff(kit, case) -> tuple[Reply, Reply]:
    return case_handoff_private(tenant=kit.tenant, membership=kit.agent, case=case,
                                public_text="Te mandamos uma mensagem privada!", private_text=PRIVATE_TEXT,
                                idempotency_key="h")


def _deliver(kit, reply: Reply) -> Reply:
    reply_deliver(tenant_id=kit.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    return reply


def _messages(kit) -> list[dict]:
    return [s for s in kit.simulator.graph.sent if s["kind"] == "message"]


def _the_answer_continues_the_case(kit, channel, case, private: Reply) -> None:
    """The customer answers in Messenger: from the id the private reply reached, into the same case."""
    kit.simulator.graph.add_message("Oi! Meu contrato é o 4455, a internet cai toda noite.", "Ana Souza")
    _poll(kit, channel)
    answer = Mention.objects.get(tenant=kit.tenant, channel=channel, text__startswith="Oi! Meu contrato")
    assert answer.author.external_id == private.recipient_external_id
    assert answer.case_link.case_id == case.pk
    assert Case.objects.filter(tenant=kit.tenant).count() == 1  # no second, unlinked case


@pytest.mark.parametrize("fault", ["error_after_post", "drop_after_post"])
@pytest.mark.parametrize("found_by", ["outcome_check", "send_again"])
def test_a_handoff_whose_private_reply_ended_in_doubt_still_links_the_messenger_answer(kit_a, page, fault,
                                                                                      found_by):
    channel, comment, case = page
    sim = kit_a.simulator.graph
    public, private = _handoff(kit_a, case)
    kit_a.simulator.inject_fault(fault, route="messages")
    private = _deliver(kit_a, private)
    assert private.state == Reply.State.FAILED and private.error.startswith("Delivery unknown:")
    assert _deliver(kit_a, public).state == Reply.State.QUEUED  # it waits for the private message's outcome

    if found_by == "outcome_check":
        reply_outcome_check(tenant_id=kit_a.tenant.pk, reply_id=private.pk)
    else:  # the agent checked and pressed Send again: SAC still looks on Facebook first
        reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=private, outcome_checked=True)
        reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=private.pk)
    private.refresh_from_db()

    sent = _messages(kit_a)
    assert len(sent) == 1  # found, not posted again
    assert private.state == Reply.State.SENT and private.external_id == sent[0]["id"]
    # The id the Send API would have answered with: the customer's page-scoped id, not their commenter id.
    psid = next(p for p, msgs in sim.conversations.items() if msgs[-1]["id"] == sent[0]["id"])
    assert private.recipient_external_id == psid
    assert psid != case.customer.external_id
    assert SentMessage.objects.get(tenant=kit_a.tenant, private_reply_to_comment=comment["id"]).external_id \
        == sent[0]["id"]

    assert _deliver(kit_a, public).state == Reply.State.SENT  # the public half goes now, once
    assert [s["kind"] for s in sim.sent] == ["message", "comment"]
    _the_answer_continues_the_case(kit_a, channel, case, private)


def test_a_private_reply_that_did_not_go_out_is_sent_once_on_retry_with_its_recipient(kit_a, page):
    channel, comment, case = page
    public, private = _handoff(kit_a, case)
    # The worker took the comment's one private reply and died before the request left: the sweep cannot know.
    private_reply_reserve(channel=channel, comment_id=comment["id"], permalink=comment["permalink_url"])
    Reply.objects.filter(pk=private.pk).update(state=Reply.State.SENDING, attempts=1,
                                               sending_started_at=timezone.now() - timedelta(minutes=10))
    replies_stale_sweep()
    private.refresh_from_db()
    assert private.state == Reply.State.FAILED and private.error.startswith("Delivery unknown:")

    reply_outcome_check(tenant_id=kit_a.tenant.pk, reply_id=private.pk)  # looks: nothing there
    private.refresh_from_db()
    assert private.state == Reply.State.FAILED and private.error.startswith("Delivery unknown:")
    assert _messages(kit_a) == []

    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=private, outcome_checked=True)
    private = _deliver(kit_a, private)
    _deliver(kit_a, private)  # a duplicated task
    sent = _messages(kit_a)
    assert len(sent) == 1 and sent[0]["recipient"] == {"comment_id": comment["id"]}
    assert private.state == Reply.State.SENT and private.external_id == sent[0]["id"]
    assert private.recipient_external_id and private.recipient_external_id in kit_a.simulator.graph.conversations
    assert _deliver(kit_a, public).state == Reply.State.SENT
    _the_answer_continues_the_case(kit_a, channel, case, private)


def test_an_instagram_private_reply_found_after_a_dropped_connection_records_its_recipient(kit_a):
    ig = kit_a.simulator.instagram
    channel = channel_create(tenant=kit_a.tenant, platform=Platform.INSTAGRAM, name="@acmetelecom on Instagram",
                             external_account_id=ig.account_id, handle=ig.username,
                             api_base_url=f"{kit_a.simulator.base_url}/graph/v21.0",
                             credentials={"access_token": "ig-token"})
    comment = ig.add_comment("Quero falar sobre minha fatura, ninguém responde", author_username="ana.ig")
    _poll(kit_a, channel)
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case = Case.objects.get(tenant=kit_a.tenant, channel=channel)
    private = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, visibility="private",
                           text="Oi Ana, vamos continuar por aqui?", idempotency_key="ig")
    kit_a.simulator.inject_fault("drop_after_post", route="messages")
    assert _deliver(kit_a, private).error.startswith("Delivery unknown:")

    reply_outcome_check(tenant_id=kit_a.tenant.pk, reply_id=private.pk)
    private.refresh_from_db()
    assert [s["kind"] for s in ig.sent] == ["message"]
    assert private.state == Reply.State.SENT and private.external_id == ig.sent[0]["id"]
    assert private.recipient_external_id == comment["from"]["id"]  # the Instagram-scoped id it reached


def test_the_look_up_never_adopts_the_same_canned_reply_sent_to_another_customer(kit_a, page):
    """Ana's private reply ended in doubt without going out; the same canned text then reached Bruno. The look-up
    must not take Bruno's message for Ana's, nor Bruno for Ana's recipient: Bruno's answer stays in Bruno's case."""
    channel, ana, case_ana = page
    sim = kit_a.simulator.graph
    bruno = sim.add_comment("Minha fatura veio errada de novo!", "Bruno Lima")
    _poll(kit_a, channel)
    case_bruno = Case.objects.get(tenant=kit_a.tenant, channel=channel, customer__name="Bruno Lima")
    case_claim(tenant=kit_a.tenant, membership=kit_a.agent, case=case_bruno)
    to_ana = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case_ana, visibility="private",
                          text=PRIVATE_TEXT, idempotency_key="ana")
    # The worker died with Ana's reply reserved and marked sending, before anything left: delivery unknown.
    private_reply_reserve(channel=channel, comment_id=ana["id"], permalink=ana["permalink_url"])
    Reply.objects.filter(pk=to_ana.pk).update(state=Reply.State.SENDING, attempts=1,
                                              sending_started_at=timezone.now() - timedelta(minutes=10))
    replies_stale_sweep()
    to_bruno = _deliver(kit_a, reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case_bruno,
                                            visibility="private", text=PRIVATE_TEXT, idempotency_key="bruno"))
    assert to_bruno.state == Reply.State.SENT and bruno["id"] != ana["id"]

    reply_outcome_check(tenant_id=kit_a.tenant.pk, reply_id=to_ana.pk)
    to_ana.refresh_from_db()
    assert to_ana.state == Reply.State.FAILED and to_ana.external_id != to_bruno.external_id  # not adopted
    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=to_ana, outcome_checked=True)
    to_ana = _deliver(kit_a, to_ana)
    assert to_ana.state == Reply.State.SENT and to_ana.external_id != to_bruno.external_id
    assert to_ana.recipient_external_id and to_ana.recipient_external_id != to_bruno.recipient_external_id
    assert [m["text"] for m in _messages(kit_a)].count(PRIVATE_TEXT) == 2  # one each, never a third

    sim.add_message("Segue o número da fatura: 12345", "Bruno Lima")
    _poll(kit_a, channel)
    answer = Mention.objects.get(tenant=kit_a.tenant, text__startswith="Segue o número")
    assert answer.case_link.case_id == case_bruno.pk
