"""Messaging windows: Messenger's 24 hours (7 with the HUMAN_AGENT tag), the once-per-comment private reply within
7 days. The composer shows them before the agent types; reply_create refuses on its own."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from channels_ingest.connectors import connector_for
from channels_ingest.models import Platform
from channels_ingest.services import channel_create
from channels_ingest.simulator.graph import PAGE_ID
from channels_ingest.types import MentionItem, OutboundMessage, ProfileItem
from inbox.models import Case, Reply
from inbox.services import CaseActionError, case_claim_next, inbox_settings_save, mentions_triage, reply_create
from inbox.windows import private_route

from ..conftest import login
from ..factories import ingest, open_case

_ids = itertools.count(1)


def _facebook(kit):
    return channel_create(tenant=kit.tenant, platform=Platform.FACEBOOK, name="Acme no Facebook",
                          external_account_id=PAGE_ID, handle="acme",
                          api_base_url=f"{kit.simulator.base_url}/graph/v21.0",
                          credentials={"page_access_token": "page-token"})


def _fb_case(kit, channel, *, kind: str, hours_ago: float, text="Minha internet não funciona, socorro!") -> Case:
    n = next(_ids)
    item = MentionItem(
        external_id=f"{PAGE_ID}_{n}" if kind == "comment" else f"m_{n}", kind=kind, text=text,
        posted_at=datetime.now(UTC) - timedelta(hours=hours_ago), raw={},
        author=ProfileItem(platform="facebook", external_id=f"psid-{n}", name="Ana Souza"),
        conversation_id=f"t_{n}", in_reply_to_external_id=f"{PAGE_ID}_post" if kind == "comment" else "",
    )
    result = ingest(channel, [item])
    mentions_triage(tenant_id=kit.tenant.pk, mention_ids=result.stored_ids)
    case = Case.objects.get(tenant=kit.tenant, case_mentions__mention_id__in=result.stored_ids)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def test_messenger_answers_within_24_hours_of_the_customers_last_message(kit_a):
    channel = _facebook(kit_a)
    fresh = _fb_case(kit_a, channel, kind="direct", hours_ago=2)
    route = private_route(kit_a.tenant, fresh)
    assert route.allowed and route.how == "messenger"
    kit_a.agent.max_open_cases = 50
    kit_a.agent.save()
    late = _fb_case(kit_a, channel, kind="direct", hours_ago=30)
    route = private_route(kit_a.tenant, late)
    assert not route.allowed
    assert "only within 24 hours of the customer's last message, which was 30 hours ago" in route.reason
    assert "HUMAN_AGENT tag is not enabled" in route.reason
    with pytest.raises(CaseActionError, match="within 24 hours"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=late, text="Oi Ana", visibility="private",
                     idempotency_key="late")
    assert not Reply.objects.filter(case=late).exists()
    # Nor a public one: the customer wrote only in Messenger, there is no public post to answer.
    with pytest.raises(CaseActionError, match="only privately"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=late, text="Oi Ana", visibility="public",
                     idempotency_key="late-public")


def test_the_human_agent_tag_gives_approved_pages_7_days(kit_a):
    channel = _facebook(kit_a)
    case = _fb_case(kit_a, channel, kind="direct", hours_ago=50)
    inbox_settings_save(tenant=kit_a.tenant, membership=kit_a.admin, human_agent_channels=[channel])
    route = private_route(kit_a.tenant, case)
    assert route.allowed and route.how == "messenger_human_agent"
    kit_a.agent.max_open_cases = 50
    kit_a.agent.save()
    week_old = _fb_case(kit_a, channel, kind="direct", hours_ago=24 * 8)
    assert not private_route(kit_a.tenant, week_old).allowed
    with pytest.raises(CaseActionError, match="Facebook pages"):
        inbox_settings_save(tenant=kit_a.tenant, membership=kit_a.admin, human_agent_channels=[kit_a.channel])


def test_past_24_hours_messenger_is_sent_with_the_human_agent_tag(kit_a, monkeypatch):
    channel = _facebook(kit_a)
    case = _fb_case(kit_a, channel, kind="direct", hours_ago=30)
    mention = case.case_mentions.get().mention
    connector = connector_for(channel)
    posted = []
    monkeypatch.setattr(connector.client, "post", lambda path, body: posted.append(body) or {"message_id": "mid.1"})
    connector.send(OutboundMessage(visibility="private", text="Oi Ana", in_reply_to_external_id=mention.external_id))
    assert posted[0]["messaging_type"] == "MESSAGE_TAG" and posted[0]["tag"] == "HUMAN_AGENT"


def test_a_comment_gets_one_private_reply_within_7_days(kit_a):
    channel = _facebook(kit_a)
    case = _fb_case(kit_a, channel, kind="comment", hours_ago=3)
    route = private_route(kit_a.tenant, case)
    assert route.allowed and route.how == "private_reply"
    reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Oi Ana, te chamei no privado",
                 visibility="private", idempotency_key="pr1")
    route = private_route(kit_a.tenant, case)
    assert not route.allowed and "already has one" in route.reason
    with pytest.raises(CaseActionError, match="one private reply per comment"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="De novo", visibility="private",
                     idempotency_key="pr2")
    kit_a.agent.max_open_cases = 50
    kit_a.agent.save()
    old = _fb_case(kit_a, channel, kind="comment", hours_ago=24 * 8)
    route = private_route(kit_a.tenant, old)
    assert not route.allowed and "only within 7 days; this comment was written 8 days ago" in route.reason


def test_x_cases_keep_their_direct_messages(kit_a):
    case = open_case(kit_a)
    assert private_route(kit_a.tenant, case).allowed


def test_the_composer_disables_the_private_option_with_the_reason_and_the_alternatives(kit_a):
    channel = _facebook(kit_a)
    inbox_settings_save(tenant=kit_a.tenant, membership=kit_a.admin, contact_email="sac@acme.example",
                        chat_url="https://chat.acme.example")
    case = _fb_case(kit_a, channel, kind="direct", hours_ago=30)
    page = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert '<input type="radio" name="visibility" value="private" id="id_visibility_1" disabled>' in page
    assert "Messenger lets the page answer only within 24 hours" in page
    # Only in Messenger: no public post to invite them under (the page says why), the brand's other channels remain.
    assert "Reply publicly inviting the customer to send a private message" not in page
    assert 'id="public-closed"' in page
    assert "E-mail: sac@acme.example" in page and "Web chat: https://chat.acme.example" in page
    assert 'id="handoff"' not in page  # the one-click handoff needs a private route too
    # A forged private submit is refused by the service, with the same reason, never a 500.
    response = login(kit_a.agent).post(reverse("inbox:case_reply", args=["acme", case.pk]), {
        "text": "Oi", "visibility": "private", "idempotency_key": "forged"})
    assert response.status_code == 400 and "only within 24 hours" in response.content.decode()
