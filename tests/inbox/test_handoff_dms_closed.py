"""The public-to-private handoff on X when the customer's DMs are closed to the brand: X says so only when it
refuses the DM (a 403), so the public half of the handoff waits for the private half and becomes an invitation
to DM the brand; the refusal is remembered on the customer, and the composer offers the invitation from then on."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from channels_ingest.errors import PermanentError, RecipientUnreachable
from channels_ingest.models import SocialProfile
from channels_ingest.types import MentionItem, ProfileItem
from channels_ingest.x.client import XClient
from inbox.models import Case, Reply
from inbox.services import CaseActionError, case_claim_next, case_handoff_private, reply_create, reply_deliver
from inbox.windows import private_route

from ..conftest import login
from ..factories import ingest, open_case


def _claimed(kit, author_id: str, handle: str = "joana"):
    case = open_case(kit, "meu CPF é 111.444.777-35 e a fatura veio errada!", author_id=author_id, handle=handle)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def _route(kit, case):
    """What the composer offers, read as a fresh page would (the customer's profile as stored now)."""
    return private_route(kit.tenant, Case.objects.select_related("customer", "channel").get(pk=case.pk))


def _handoff(kit, case, key="h"):
    return case_handoff_private(tenant=kit.tenant, membership=kit.agent, case=case, public_text="Te mandamos DM!",
                                private_text="Oi! Conta mais por aqui?", idempotency_key=key)


def test_the_public_half_of_a_handoff_waits_until_the_dm_is_out(kit_a):
    case = _claimed(kit_a, "7001")
    public, private = _handoff(kit_a, case)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=public.pk)  # its task may well run first
    public.refresh_from_db()
    assert public.state == Reply.State.QUEUED and public.attempts == 0
    assert kit_a.simulator.sent == []  # nothing announced before the DM exists
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=private.pk)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=public.pk)
    assert [(s["kind"], s["text"]) for s in kit_a.simulator.sent] == [("dm", "Oi! Conta mais por aqui?"),
                                                                      ("reply", "Te mandamos DM!")]


def test_closed_dms_turn_the_public_half_into_an_invitation_and_are_remembered(kit_a):
    case = _claimed(kit_a, "7002")
    kit_a.simulator.close_dms("7002")
    public, private = _handoff(kit_a, case)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=private.pk)
    private.refresh_from_db()
    assert private.state == Reply.State.FAILED
    assert private.error.startswith("Not deliverable:") and "does not accept DMs from the brand" in private.error
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=public.pk)
    public.refresh_from_db()
    assert public.state == Reply.State.SENT
    # Never "we sent you a DM" for a DM that X refused: the customer is asked to DM the brand instead.
    assert [s["kind"] for s in kit_a.simulator.sent] == ["reply"]
    posted = kit_a.simulator.sent[0]["text"]
    assert posted == public.text and "mande uma DM para @acme" in posted and case.protocol in posted

    assert SocialProfile.objects.get(tenant=kit_a.tenant, pk=case.customer_id).dms_closed_at is not None
    route = _route(kit_a, case)
    assert not route.allowed and "X refused our last direct message to @joana" in route.reason
    assert any("mande uma DM para @acme" in a.text for a in route.alternatives)
    with pytest.raises(CaseActionError, match="do not accept DMs from the brand"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=Case.objects.get(pk=case.pk), text="Oi de novo",
                     visibility="private", idempotency_key="again")
    page = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk]))
    assert b"X refused our last direct message to @joana" in page.content


def test_a_dm_from_the_customer_opens_the_private_route_again(kit_a):
    case = _claimed(kit_a, "7003")
    kit_a.simulator.close_dms("7003")
    _, private = _handoff(kit_a, case)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=private.pk)
    assert not _route(kit_a, case).allowed
    ingest(kit_a.channel, [MentionItem(
        external_id="dm-7003-1", kind="direct", text="Oi, segue meu contrato", posted_at=datetime.now(UTC),
        raw={"id": "dm-7003-1"}, author=ProfileItem(platform="simulator", external_id="7003", handle="joana"))])
    assert SocialProfile.objects.get(tenant=kit_a.tenant, pk=case.customer_id).dms_closed_at is None
    assert _route(kit_a, case).allowed


def test_the_public_half_is_held_back_with_the_reason_when_the_dm_failed_otherwise(kit_a):
    case = _claimed(kit_a, "7004")
    public, private = _handoff(kit_a, case)
    Reply.objects.filter(pk=private.pk).update(state=Reply.State.FAILED, error="X answered 400: text too long")
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=public.pk)
    public.refresh_from_db()
    assert public.state == Reply.State.FAILED
    assert "announces a private message that was not sent" in public.error and "text too long" in public.error
    assert kit_a.simulator.sent == []


def test_a_refusal_is_remembered_for_the_tenant_whose_dm_was_refused_only(kit_a, kit_b):
    case_a = _claimed(kit_a, "7005")
    case_b = _claimed(kit_b, "7005")  # the same person writes to two brands
    kit_a.simulator.close_dms("7005")
    _, private = _handoff(kit_a, case_a)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=private.pk)
    assert not _route(kit_a, case_a).allowed
    assert _route(kit_b, case_b).allowed
    assert SocialProfile.objects.get(tenant=kit_b.tenant, pk=case_b.customer_id).dms_closed_at is None


def test_the_x_client_tells_a_refused_dm_from_an_app_refused_the_endpoint(kit_a):
    client = XClient(credentials={"bearer_token": "t", "consumer_key": "k", "consumer_secret": "s",
                                  "access_token": "a", "access_token_secret": "b"},
                     base_url=kit_a.simulator.base_url)
    kit_a.simulator.close_dms("7006")
    with pytest.raises(RecipientUnreachable, match="403"):
        client.direct_message(participant_id="7006", text="Oi")
    assert client.direct_message(participant_id="7007", text="Oi")  # open DMs: delivered
    assert not issubclass(PermanentError, RecipientUnreachable)
