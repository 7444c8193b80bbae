"""The brand's replies written outside SAC (on X itself, in another tool) come back through ingest: they are filed in
their case's thread as ours, meet its first response, and stop an agent about to answer a second time."""

import dataclasses
import uuid

import pytest
from django.urls import reverse

from channels_ingest.models import Mention, SentMessage
from inbox.models import Case, CaseMention
from inbox.services import ThreadChanged, mentions_triage, reply_create
from sac.models import AuditEvent

from ..conftest import login
from ..factories import BRAND_ID, ingest, mention_item, open_case

pytestmark = pytest.mark.django_db


def _brand_reply(kit, text: str, *, to: Mention, external_id: str | None = None) -> Mention:
    """What polling brings back when someone answered on X itself: a post by the brand's own account."""
    item = dataclasses.replace(mention_item(text, author_id=BRAND_ID, handle=kit.tenant.slug, external_id=external_id),
                               in_reply_to_external_id=to.external_id, conversation_id=to.conversation_id)
    result = ingest(kit.channel, [item])
    mentions_triage(tenant_id=kit.tenant.pk, mention_ids=result.stored_ids)
    return Mention.objects.get(tenant=kit.tenant, external_id=item.external_id)


def test_a_reply_written_on_the_network_is_filed_in_its_case_as_ours(kit_a):
    case = open_case(kit_a, "Minha internet caiu de novo, ninguém resolve!")
    customer_post = case.case_mentions.get().mention
    cases_before = Case.objects.filter(tenant=kit_a.tenant).count()
    reply = _brand_reply(kit_a, "Olá! Já abrimos um chamado, te chamamos na DM.", to=customer_post)

    assert reply.direction == Mention.Direction.OUTBOUND and reply.triaged_at is not None
    assert Case.objects.filter(tenant=kit_a.tenant).count() == cases_before  # not a new customer case
    assert CaseMention.objects.get(tenant=kit_a.tenant, mention=reply).case_id == case.pk
    case.refresh_from_db()
    assert case.first_response_at == reply.posted_at  # answered is answered, wherever it was written
    assert AuditEvent.objects.filter(tenant=kit_a.tenant, verb="case.replied_outside", object_id=str(case.pk)).exists()
    page = login(kit_a.agent).get(reverse("inbox:case", args=[kit_a.tenant.slug, case.pk])).content.decode()
    assert "Já abrimos um chamado" in page and "sent outside SAC" in page and f'data-outside-reply="{reply.pk}"' in page


def test_what_sac_itself_sent_is_not_shown_twice(kit_a):
    case = open_case(kit_a)
    customer_post = case.case_mentions.get().mention
    SentMessage.objects.create(tenant=kit_a.tenant, channel=kit_a.channel, external_id="990001", kind="public_reply",
                               in_reply_to_external_id=customer_post.external_id)
    echo = _brand_reply(kit_a, "Resposta enviada pelo SAC", to=customer_post, external_id="990001")
    assert echo.triaged_at is not None
    assert not CaseMention.objects.filter(tenant=kit_a.tenant, mention=echo).exists()


def test_a_brand_post_that_answers_nothing_we_hold_is_kept_and_opens_nothing(kit_a):
    orphan = dataclasses.replace(mention_item("Promoção de fim de ano!", author_id=BRAND_ID), conversation_id="x")
    result = ingest(kit_a.channel, [orphan])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    stored = Mention.objects.get(tenant=kit_a.tenant, pk=result.stored_ids[0])
    assert stored.triaged_at is not None and not CaseMention.objects.filter(mention=stored).exists()
    assert not Case.objects.filter(tenant=kit_a.tenant).exists()


def test_an_agent_about_to_answer_again_is_stopped_and_told(kit_a):
    from django.utils import timezone

    case = open_case(kit_a)
    case.assignee = kit_a.agent.user
    case.save(update_fields=["assignee"])
    opened_at = timezone.now()
    _brand_reply(kit_a, "Já resolvemos pelo app, obrigado!", to=case.case_mentions.get().mention)
    with pytest.raises(ThreadChanged) as stopped:
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Olá! Podemos ajudar?",
                     visibility="public", idempotency_key=uuid.uuid4().hex, seen_at=opened_at)
    assert "sent outside SAC" in str(stopped.value) and "Já resolvemos pelo app" in str(stopped.value)


def test_a_reply_is_never_filed_in_another_brands_case(kit_a, kit_b):
    # The same post id in both brands (one network, two brands tagged in the same post).
    case_b = open_case(kit_b)
    post_b = case_b.case_mentions.get().mention
    same_id_in_a = dataclasses.replace(mention_item("Alguém da Acme?", external_id=post_b.external_id))
    ingest(kit_a.channel, [same_id_in_a])  # stored in A (not triaged here)
    reply = _brand_reply(kit_a, "Oi! Aqui é a Acme.", to=post_b)
    assert not CaseMention.objects.filter(mention=reply, case=case_b).exists()
    assert not CaseMention.objects.filter(tenant=kit_b.tenant, mention__tenant=kit_a.tenant).exists()
