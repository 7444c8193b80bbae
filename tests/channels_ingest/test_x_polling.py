"""X polling beyond mentions: direct messages (GET /2/dm_events) against the simulator, our own DMs coming
back, a 401 marking the channel for re-authorisation."""

import pytest

from channels_ingest.connectors import connector_for
from channels_ingest.models import ChannelAccount, Mention
from channels_ingest.services import channel_poll
from channels_ingest.types import OutboundMessage


@pytest.mark.django_db
def test_dms_are_polled_once_and_our_own_dm_comes_back_as_ours(kit_a):
    sim = kit_a.simulator
    sim.store.add_dm("meu pedido 123 não chegou", "cliente_dm", "pt")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert run.outcome == "ok", run.error
    dm = Mention.objects.get(channel=kit_a.channel, kind="direct")
    assert dm.text == "meu pedido 123 não chegou" and dm.direction == "in"
    assert dm.author.handle == "cliente_dm"

    sent_id = connector_for(kit_a.channel).send(OutboundMessage(
        visibility="private", text="Olá! Vamos verificar.", recipient_external_id=dm.author.external_id))
    sim.store.add_dm("obrigado", "cliente_dm", "pt")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    dms = Mention.objects.filter(channel=kit_a.channel, kind="direct")
    assert dms.count() == 3
    ours = dms.get(external_id=sent_id)
    assert ours.direction == "out" and ours.triaged_at is not None
    assert dms.get(text="obrigado").direction == "in"
    kit_a.channel.refresh_from_db()
    assert kit_a.channel.cursor["dm_newest"] == max(dms.values_list("external_id", flat=True), key=int)


@pytest.mark.django_db
def test_x_channel_without_a_token_needs_reauth_and_stops_polling(kit_a):
    channel = ChannelAccount.objects.get(pk=kit_a.channel.pk)
    channel.credentials = {}
    channel.save(update_fields=["credentials"])
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    channel.refresh_from_db()
    assert channel.status == ChannelAccount.Status.NEEDS_REAUTH
    assert "connect the X account again" in channel.status_detail
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk) is None


@pytest.mark.django_db
def test_x_429_moves_the_next_poll_to_the_reset(kit_a):
    from django.utils import timezone

    kit_a.simulator.store.faults.append("rate_limit")
    before = timezone.now()
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    kit_a.channel.refresh_from_db()
    assert run.outcome == "failed" and "rate limit" in run.error
    assert kit_a.channel.next_poll_at > before and kit_a.channel.status == "active"
    assert "rate limited" in run.rate_note


@pytest.mark.django_db
def test_x_rate_limit_remaining_zero_moves_the_next_poll_to_the_reset(kit_a, shared_dir):
    """The recorded mentions page (tweepy cassette) served with its headers, the window spent."""
    import json
    import time
    from datetime import timedelta

    from django.utils import timezone

    from .graph_fake import GraphFake

    recording = json.loads((shared_dir / "fixtures/x/v2_get_users_mentions.json").read_text())
    response = recording["interactions"][0]["response"]
    fake = GraphFake()
    try:
        reset = int(time.time()) + 600
        fake.on("GET", f"2/users/{kit_a.channel.external_account_id}/mentions", response["body"],
                headers={"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0",
                         "x-rate-limit-reset": str(reset)})
        ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(api_base_url=fake.base_url)
        run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    finally:
        fake.stop()
    kit_a.channel.refresh_from_db()
    # Recorded with default fields only (no created_at): each tweet is dead-lettered with the reason, not lost.
    assert run.outcome == "ok" and run.dead_lettered == len(response["body"]["data"]) and run.stored == 0
    assert kit_a.channel.next_poll_at > timezone.now() + timedelta(seconds=500)
    assert "usage high" in run.rate_note or "next poll in" in run.rate_note


@pytest.mark.django_db
def test_brand_terms_are_searched_besides_mentions_each_post_stored_once(kit_a):
    # The simulator shows every customer post in the mentions timeline too, so search finds duplicates here:
    # what this proves is that search is called with the brand's terms and nothing is stored twice.
    sim = kit_a.simulator
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(search_terms="acmefibra acme-tv")
    channel = ChannelAccount.objects.get(pk=kit_a.channel.pk)
    sim.add_post("@acme a acmefibra caiu de novo")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    sim.add_post("minha acmefibra está lenta hoje")
    sim.add_post("nada a ver com a marca")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert run.outcome == "ok", run.error
    assert run.stored == 2 and run.duplicates == 1  # the acmefibra post came from mentions and from search
    assert Mention.objects.filter(channel=channel).count() == 3
    channel.refresh_from_db()
    assert channel.cursor["search"]["since_id"]
    assert len([r for r in sim.store.requests if "search/recent" in r["path"]]) == 2
    assert connector_for(channel).search_query() == "(acmefibra OR \"acme-tv\") -is:retweet -from:acme"


@pytest.mark.django_db
def test_one_tenants_many_channels_do_not_starve_another(kit_a, kit_b):
    from django.utils import timezone

    from channels_ingest.services import channel_create, schedule_due_polls

    for i in range(10):
        channel_create(tenant=kit_a.tenant, platform="simulator", name=f"a{i}", external_account_id=f"9{i}")
    claimed = schedule_due_polls(per_tenant=3)
    per_tenant = {t: sum(1 for tt, _, _ in claimed if tt == t) for t in (kit_a.tenant.pk, kit_b.tenant.pk)}
    assert per_tenant == {kit_a.tenant.pk: 3, kit_b.tenant.pk: 1}
    # A's three polls are queued (leased by the scheduler, not started yet): A gets nothing more until one
    # finishes; its other channels stay due.
    ChannelAccount.objects.filter(pk=kit_b.channel.pk).update(next_poll_at=timezone.now(), poll_lease_until=None)
    again = schedule_due_polls(per_tenant=3)
    assert [(t, c) for t, c, _ in again] == [(kit_b.tenant.pk, kit_b.channel.pk)]
    assert ChannelAccount.objects.filter(tenant=kit_a.tenant, next_poll_at__lte=timezone.now()).count() == 8


@pytest.mark.django_db
def test_an_edited_post_updates_the_original_and_keeps_its_text(kit_a):
    from channels_ingest.x.parse import parse_mentions_page

    from ..factories import ingest

    def tweet(tweet_id, text, history):
        return {"id": tweet_id, "text": text, "author_id": "42", "created_at": "2026-11-23T10:15:42.000Z",
                "edit_history_tweet_ids": history}

    original = parse_mentions_page("x", {"data": [tweet("100", "@acme fatura errada!!", ["100"])], "meta": {}},
                                   cursor={}, follow_pages=False)
    ingest(kit_a.channel, original.items)
    edited = tweet("101", "@acme fatura errada, já resolveram", ["100", "101"])
    edited["created_at"] = "2026-11-23T10:20:00.000Z"
    page = parse_mentions_page("x", {"data": [edited], "meta": {}}, cursor={}, follow_pages=False)
    ingest(kit_a.channel, page.items)
    mention = Mention.objects.get(channel=kit_a.channel)
    assert mention.external_id == "100" and mention.text == "@acme fatura errada, já resolveram"
    assert mention.revisions.get().text == "@acme fatura errada!!"
