"""The one-click public-to-private handoff in a real browser, through the simulator: on X (DMs open, and
DMs closed to the brand) and on a Facebook page (a private reply to the comment, whose Messenger answer
continues the same case)."""

import pytest
from playwright.sync_api import expect

from channels_ingest.connectors import connector_for
from channels_ingest.models import Platform
from channels_ingest.services import channel_create, channel_poll
from channels_ingest.simulator.graph import PAGE_ID
from inbox.models import Case
from inbox.services import case_claim, mentions_triage

from ..factories import ingest
from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def _x_case(kit, text: str, username: str) -> Case:
    kit.simulator.add_post(text, author_username=username)
    channel_poll(tenant_id=kit.tenant.pk, channel_id=kit.channel.pk)
    case = Case.objects.get(tenant=kit.tenant)
    case_claim(tenant=kit.tenant, membership=kit.agent, case=case)
    return case


def _hand_off(page, base_url: str, case: Case) -> None:
    browser_login(page, base_url, "acme-agent")
    page.goto(f"{base_url}/t/acme/cases/{case.pk}/")
    handoff = page.locator("#handoff")
    expect(handoff).to_have_attribute("open", "")  # personal data in the post: the handoff is offered open
    page.click("#handoff-send")


def test_handoff_on_x_sends_the_dm_then_the_public_answer(live_server, page, kit_a):
    case = _x_case(kit_a, "@acmetelecom meu CPF é 111.444.777-35 e cobraram duas vezes!", "ritaf")
    _hand_off(page, live_server.url, case)
    expect(page.locator(".msg.outbound.private .state")).to_have_text("Sent")
    expect(page.locator(".msg.outbound:not(.private) .state")).to_have_text("Sent")
    assert [s["kind"] for s in kit_a.simulator.sent] == ["dm", "reply"]  # never announced before it exists


def test_handoff_on_x_with_closed_dms_invites_the_customer_to_dm_the_brand(live_server, page, kit_a):
    case = _x_case(kit_a, "@acmetelecom meu CPF é 111.444.777-35 e cobraram duas vezes!", "ritaf")
    kit_a.simulator.close_dms("ritaf")
    _hand_off(page, live_server.url, case)
    expect(page.locator(".msg.outbound.private")).to_contain_text("Not deliverable")
    public = page.locator(".msg.outbound:not(.private)")
    expect(public.locator(".state")).to_have_text("Sent")
    expect(public).to_contain_text("mande uma DM para @acme")
    assert [s["kind"] for s in kit_a.simulator.sent] == ["reply"]
    # From now on the composer says why there is no DM, and offers the invitation.
    page.reload()
    expect(page.locator("input[name=visibility][value=private]")).to_be_disabled()
    expect(page.locator("#private-closed-reason")).to_contain_text("X refused our last direct message")


def test_handoff_on_facebook_replies_privately_to_the_comment(live_server, page, kit_a):
    sim = kit_a.simulator
    channel = channel_create(tenant=kit_a.tenant, platform=Platform.FACEBOOK, name="Acme no Facebook",
                             external_account_id=PAGE_ID, handle="acme", api_base_url=f"{sim.base_url}/graph/v21.0",
                             credentials={"page_access_token": "page-token"})
    comment = sim.graph.add_comment("Meu telefone é (11) 98765-4321, a internet caiu de novo!", "Ana Souza")
    result = ingest(channel, [i for i in connector_for(channel).fetch_page().items if i.external_id == comment["id"]])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    case = Case.objects.get(tenant=kit_a.tenant, channel=channel)
    case_claim(tenant=kit_a.tenant, membership=kit_a.agent, case=case)
    _hand_off(page, live_server.url, case)
    expect(page.locator(".msg.outbound.private .state")).to_have_text("Sent")
    expect(page.locator(".msg.outbound:not(.private) .state")).to_have_text("Sent")
    sent = sim.graph.sent
    assert [s["kind"] for s in sent] == ["message", "comment"]  # the private reply first, then the public one
    assert sent[0]["recipient"] == {"comment_id": comment["id"]} and sent[1]["in_reply_to"] == comment["id"]
    # Facebook allows one private reply per comment: the composer now says so.
    page.reload()
    expect(page.locator("#private-closed-reason")).to_contain_text("one private reply per comment")
    # The customer answers in Messenger, from their page-scoped id (not the commenter's): the same case.
    answer = sim.graph.add_message("Oi! Meu contrato é o 4455, cai toda noite.", "Ana Souza")
    result = ingest(channel, [i for i in connector_for(channel).fetch_page().items if i.external_id == answer["id"]])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    assert list(Case.objects.filter(tenant=kit_a.tenant, channel=channel).values_list("pk", flat=True)) == [case.pk]
    page.reload()
    expect(page.locator("#thread .msg.inbound").last).to_contain_text("Meu contrato é o 4455")
    # The private talk stays tied to the public comment, and Messenger is open for the answer.
    expect(page.locator("#handoff-origin a")).to_have_attribute("href", comment["permalink_url"])
    expect(page.locator("#private-window")).to_contain_text("Messenger")
