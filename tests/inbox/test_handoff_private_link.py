"""After the public-to-private handoff: the private conversation stays in the case it came from (Facebook's
Messenger answer comes from another id than the comment, the page-scoped id the private reply's send answered
with), public replies keep answering the customer's public post even once they write privately, a case with no
public post offers neither a public reply nor the handoff, and the handoff stops like the composer when the
thread moved on while the agent wrote. Against the loopback simulator (X and a Graph API page)."""


from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_ingest.models import Mention, Platform
from channels_ingest.services import channel_create, channel_poll
from channels_ingest.simulator.graph import PAGE_ID
from inbox.models import Case, Reply
from inbox.services import (
    CaseActionError,
    ThreadChanged,
    case_claim,
    case_handoff_private,
    case_status_change,
    mentions_triage,
    reply_create,
    reply_deliver,
)

from ..conftest import login

pytestmark = pytest.mark.django_db


def _poll(kit, channel) -> None:
    """A poll as production runs it, then triage of what it stored (the on-commit announcement does not run in
    these transactional tests)."""
    run = channel_poll(tenant_id=kit.tenant.pk, channel_id=channel.pk)
    assert run.outcome == "ok", run.error
    untriaged = Mention.objects.filter(tenant=kit.tenant, channel=channel, triaged_at__isnull=True)
    mentions_triage(tenant_id=kit.tenant.pk, mention_ids=list(untriaged.values_list("pk", flat=True)))


def _deliver(kit, *replies: Reply) -> None:
    for reply in replies:
        reply_deliver(tenant_id=kit.tenant.pk, reply_id=reply.pk)
        reply.refresh_from_db()
        assert reply.state == Reply.State.SENT, reply.error


def _handoff(kit, case, key="h", **kwargs) -> tuple[Reply, Reply]:
    return case_handoff_private(tenant=kit.tenant, membership=kit.agent, case=case,
                                public_text="Te mandamos uma mensagem privada!",
                                private_text="Oi! Aqui é do atendimento, conta mais por aqui?",
                                idempotency_key=key, **kwargs)


@pytest.fixture
def page(kit_a):
    """A Facebook page channel on the simulator, with a customer's complaint in a comment, claimed by the agent."""
    sim = kit_a.simulator.graph
    channel = channel_create(tenant=kit_a.tenant, platform=Platform.FACEBOOK, name="Acme no Facebook",
                             external_account_id=PAGE_ID, handle="acme",
                             api_base_url=f"{kit_a.simulator.base_url}/graph/v21.0",
                             credentials={"page_access_token": "page-token"})
    comment = sim.add_comment("Meu telefone é (11) 98765-4321, a internet caiu de novo!", "Ana Souza")
    _poll(kit_a, channel)
    case = Case.objects.get(tenant=kit_a.tenant, channel=channel)
    case_claim(tenant=kit_a.tenant, membership=kit_a.agent, case=case)
    return channel, comment, Case.objects.get(pk=case.pk)


def test_the_messenger_answer_to_a_private_reply_continues_the_same_case(kit_a, page):
    channel, comment, case = page
    sim = kit_a.simulator.graph
    public, private = _handoff(kit_a, case)
    _deliver(kit_a, private, public)
    # The page-scoped id the Send API answered with, not the commenter's id: their Messenger answer comes from it.
    assert private.recipient_external_id and private.recipient_external_id in sim.conversations
    assert private.recipient_external_id != case.customer.external_id

    sim.add_message("Oi! Meu contrato é o 4455, a internet cai toda noite.", "Ana Souza")
    _poll(kit_a, channel)
    answer = Mention.objects.get(tenant=kit_a.tenant, channel=channel, text__startswith="Oi! Meu contrato")
    assert answer.author.external_id == private.recipient_external_id
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 1  # no second case for the Messenger answer
    assert answer.case_link.case_id == case.pk

    # The agent answers in Messenger now; a public reply still goes under the comment.
    case = Case.objects.get(pk=case.pk)
    dm = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Obrigado, Ana! Verificando.",
                      visibility="private", idempotency_key="dm")
    again = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Resolvido por DM, obrigado!",
                         visibility="public", idempotency_key="pub")
    _deliver(kit_a, dm, again)
    assert sim.sent[-2]["recipient"] == {"id": private.recipient_external_id}
    assert sim.sent[-1]["kind"] == "comment" and sim.sent[-1]["in_reply_to"] == comment["id"]

    # The case page ties the private conversation to the public comment.
    html = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert 'id="handoff-origin"' in html and comment["permalink_url"] in html


def test_a_messenger_answer_after_the_case_was_resolved_reopens_it(kit_a, page):
    channel, _comment, case = page
    public, private = _handoff(kit_a, case)
    _deliver(kit_a, private, public)
    case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=Case.objects.get(pk=case.pk),
                       new_status=Case.Status.RESOLVED)
    kit_a.simulator.graph.add_message("A internet caiu de novo hoje, pode olhar?", "Ana Souza")
    _poll(kit_a, channel)
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN  # within the reopen window: the same case, as for any customer
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 1


def test_a_messenger_answer_after_the_reopen_window_opens_a_case_that_follows_it(kit_a, page):
    channel, comment, case = page
    public, private = _handoff(kit_a, case)
    _deliver(kit_a, private, public)
    case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=Case.objects.get(pk=case.pk),
                       new_status=Case.Status.RESOLVED)
    Case.objects.filter(pk=case.pk).update(resolved_at=timezone.now() - timedelta(days=kit_a.tenant
                                                                                  .reopen_window_days + 1))
    kit_a.simulator.graph.add_message("A internet caiu de novo, não funciona nada! Preciso de ajuda.", "Ana Souza")
    _poll(kit_a, channel)
    follow_up = Case.objects.exclude(pk=case.pk).get(tenant=kit_a.tenant)
    assert follow_up.follows_id == case.pk
    # Its page still leads to the public comment the private talk started from, and to the earlier case.
    html = login(kit_a.supervisor).get(reverse("inbox:case", args=["acme", follow_up.pk])).content.decode()
    origin = html.split('id="handoff-origin"', 1)[1].split("</ul>", 1)[0]
    assert comment["permalink_url"] in origin and case.protocol in origin


def test_someone_else_on_messenger_still_opens_their_own_case(kit_a, page):
    channel, _comment, case = page
    public, private = _handoff(kit_a, case)
    _deliver(kit_a, private, public)
    kit_a.simulator.graph.add_message("Minha fatura veio errada, podem ajudar?", "Bruno Lima")
    _poll(kit_a, channel)
    other = Mention.objects.get(tenant=kit_a.tenant, channel=channel, text__startswith="Minha fatura")
    assert other.case_link.case_id != case.pk


def _x_case(kit, username: str = "ritaf") -> Case:
    kit.simulator.add_post("@acmetelecom cobraram duas vezes a minha fatura, absurdo!", author_username=username)
    _poll(kit, kit.channel)
    case = Case.objects.get(tenant=kit.tenant)
    case_claim(tenant=kit.tenant, membership=kit.agent, case=case)
    return Case.objects.get(pk=case.pk)


def test_after_an_x_handoff_a_public_reply_still_answers_the_tweet(kit_a):
    case = _x_case(kit_a)
    tweet = Mention.objects.get(tenant=kit_a.tenant, kind=Mention.Kind.POST)
    public, private = _handoff(kit_a, case)
    _deliver(kit_a, private, public)
    kit_a.simulator.add_dm("Oi, segue o número do contrato: 4455", author_username="ritaf")
    _poll(kit_a, kit_a.channel)
    assert Mention.objects.get(tenant=kit_a.tenant, kind=Mention.Kind.DIRECT, direction="in").case_link.case_id \
        == case.pk
    later = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=Case.objects.get(pk=case.pk),
                         text="Resolvemos por DM, obrigado pela paciência!", visibility="public",
                         idempotency_key="later")
    assert later.in_reply_to_id == tweet.pk  # the tweet, never the DM
    _deliver(kit_a, later)  # X takes it: a reply to a DM id was "X answered 400"
    assert kit_a.simulator.sent[-1]["kind"] == "reply"


def test_a_case_with_only_private_messages_offers_no_public_reply_nor_handoff(kit_a):
    kit_a.simulator.add_dm("Meu pedido 123 não chegou, podem ver?", author_username="cliente_dm")
    _poll(kit_a, kit_a.channel)
    case = Case.objects.get(tenant=kit_a.tenant)
    case_claim(tenant=kit_a.tenant, membership=kit_a.agent, case=case)
    case = Case.objects.get(pk=case.pk)
    with pytest.raises(CaseActionError, match="only privately"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Oi!", visibility="public",
                     idempotency_key="pub")
    with pytest.raises(CaseActionError, match="only privately"):
        _handoff(kit_a, case)
    assert not Reply.objects.filter(tenant=kit_a.tenant).exists()

    html = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert 'id="public-closed"' in html and "written only privately" in html
    assert 'id="handoff"' not in html
    assert 'name="visibility" value="public" id="id_visibility_0" disabled' in html
    assert 'value="private" id="id_visibility_1" required checked' in html  # the composer starts on private
    # A private message still goes out, as a DM.
    dm = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Oi! Vamos ver seu pedido.",
                      visibility="private", idempotency_key="dm")
    _deliver(kit_a, dm)


def test_the_handoff_stops_when_the_customer_wrote_meanwhile(kit_a):
    case = _x_case(kit_a)
    opened = timezone.now()
    kit_a.simulator.add_post("@acmetelecom e até agora nada!", author_username="ritaf")
    _poll(kit_a, kit_a.channel)
    with pytest.raises(ThreadChanged, match="the customer wrote 1 new message"):
        _handoff(kit_a, case, seen_at=opened)
    assert not Reply.objects.filter(tenant=kit_a.tenant).exists()  # neither half queued
    public, private = _handoff(kit_a, case, seen_at=timezone.now())  # seen now: it goes
    assert {public.visibility, private.visibility} == {"public", "private"}


def test_the_handoff_stops_when_a_colleague_replied_meanwhile(kit_a):
    case = _x_case(kit_a)
    opened = timezone.now()
    reply_create(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, text="Oi Rita, já estamos vendo!",
                 visibility="public", idempotency_key="sup")
    with pytest.raises(ThreadChanged, match="acme-supervisor replied"):
        _handoff(kit_a, case, seen_at=opened)


def test_the_handoff_form_shows_what_changed_and_keeps_the_texts(kit_a):
    case = _x_case(kit_a)
    client = login(kit_a.agent)
    url = reverse("inbox:case_handoff", args=["acme", case.pk])
    page = client.get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert 'name="seen_at"' in page.split('id="handoff"', 1)[1]  # the one-click form carries when it was shown
    opened = timezone.now().isoformat()
    kit_a.simulator.add_post("@acmetelecom alguém vai responder?", author_username="ritaf")
    _poll(kit_a, kit_a.channel)
    form = {"public_text": "Te chamamos na DM!", "private_text": "Oi Rita, meu texto editado", "idempotency_key": "k1",
            "seen_at": opened}
    response = client.post(url, form)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="handoff-error"' in html and "the customer wrote 1 new message" in html
    assert "Oi Rita, meu texto editado" in html and "alguém vai responder?" in html
    assert not Reply.objects.filter(tenant=kit_a.tenant).exists()
    seen_now = html.split('id="handoff"', 1)[1].split('name="seen_at" value="', 1)[1].split('"', 1)[0]
    response = client.post(url, {**form, "seen_at": seen_now})  # the agent read it and confirms
    assert response.status_code == 302
    assert sorted(Reply.objects.filter(tenant=kit_a.tenant).values_list("text", flat=True)) == \
        ["Oi Rita, meu texto editado", "Te chamamos na DM!"]
