"""X pay-per-use: what SAC reads from X is billed to the tenant, so it must read (and count) only what it needs.

X bills every resource returned ($0.005 a post, $0.010 a DM event: docs.x.com/x-api/getting-started/pricing).
The loopback simulator plays X (GET /2/dm_events honours max_results and pagination_token, newest first); where a
test scripts the answers itself (tests/channels_ingest/graph_fake.py) the bodies are the recorded tweepy cassette
in ../shared/fixtures/x, or, for the 429 with no x-rate-limit-reset (no recording has one), a body written from
X's documented 429 problem (docs.x.com/fundamentals/rate-limits).
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from channels_ingest.connectors import connector_for
from channels_ingest.models import ApiUsage, ChannelAccount, DeadLetter, Mention
from channels_ingest.selectors import usage_summary
from channels_ingest.services import api_usage_add, channel_poll
from channels_ingest.types import OutboundMessage

from ..conftest import login
from .graph_fake import GraphFake


def _usage(channel: ChannelAccount) -> ApiUsage:
    return ApiUsage.objects.filter(channel=channel).first() or ApiUsage(channel=channel)


def _poll(kit):
    run = channel_poll(tenant_id=kit.tenant.pk, channel_id=kit.channel.pk)
    assert run is not None and run.outcome == "ok", run and run.error
    kit.channel.refresh_from_db()
    return run


def _dm_requests(sim) -> int:
    return sum(1 for r in sim.store.requests if r["path"] == "/2/dm_events")


@pytest.mark.django_db
def test_it_bills_almost_nothing_for_polls_with_no_new_dm_and_stores_nothing_twice(kit_a):
    sim = kit_a.simulator
    for i in range(60):
        sim.store.add_dm(f"mensagem antiga {i}", f"cliente{i % 7}", "pt")
    _poll(kit_a)  # the channel's first poll: the newest page, once
    assert _usage(kit_a.channel).dm_events_read == 60
    assert Mention.objects.filter(channel=kit_a.channel, kind="direct").count() == 60

    for _ in range(4):
        run = _poll(kit_a)
        assert run.stored == 0 and run.duplicates == 0
    # Four probes of one event each ($0.04), not 4 × 60 events ($2.40).
    assert _usage(kit_a.channel).dm_events_read == 64
    assert Mention.objects.filter(channel=kit_a.channel, kind="direct").count() == 60
    summary = usage_summary(kit_a.tenant, kit_a.channel)
    assert summary.spend_usd == Decimal("0.640")


@pytest.mark.django_db
def test_a_new_dm_after_old_ones_is_fetched_and_billed_once(kit_a):
    sim = kit_a.simulator
    for i in range(60):
        sim.store.add_dm(f"mensagem antiga {i}", "cliente_antigo", "pt")
    _poll(kit_a)
    before = _usage(kit_a.channel).dm_events_read
    new = sim.store.add_dm("meu pedido 123 não chegou", "cliente_novo", "pt")
    run = _poll(kit_a)
    assert run.stored == 1 and run.duplicates == 0
    dm = Mention.objects.get(channel=kit_a.channel, external_id=new["id"])
    assert dm.text == "meu pedido 123 não chegou" and dm.direction == "in"
    # The probe (the new DM) and one page of two to find an event already held: 3 events, not 61.
    assert _usage(kit_a.channel).dm_events_read - before == 3
    assert kit_a.channel.cursor["dm_newest"] == new["id"]
    _poll(kit_a)
    assert _usage(kit_a.channel).dm_events_read - before == 4
    assert Mention.objects.filter(channel=kit_a.channel, kind="direct").count() == 61


@pytest.mark.django_db
def test_a_burst_of_dms_larger_than_one_fetch_is_read_to_the_end_and_nothing_is_skipped(kit_a):
    sim = kit_a.simulator
    sim.store.add_dm("a primeira", "cliente", "pt")
    _poll(kit_a)
    burst = [sim.store.add_dm(f"crise {i}", f"cliente{i % 40}", "pt") for i in range(300)]
    before = _usage(kit_a.channel).dm_events_read
    run = _poll(kit_a)
    assert run.stored == 300
    assert set(Mention.objects.filter(channel=kit_a.channel, kind="direct").values_list("external_id", flat=True)) \
        >= {e["id"] for e in burst}
    # Pages double from 1 to 100 while everything is new; at most one page's worth read twice over.
    assert 300 <= _usage(kit_a.channel).dm_events_read - before < 400
    assert kit_a.channel.cursor["dm_newest"] == burst[-1]["id"] and not kit_a.channel.cursor["dm_next_token"]


@pytest.mark.django_db
def test_repeated_polls_over_the_recorded_dm_page_ask_for_one_event_and_bill_it(kit_a, shared_dir):
    """The tweepy cassette's DM events page (live X output, default fields: no created_at, so each event is
    dead-lettered with the reason). The fake answers the probe as X does for max_results=1: the newest event."""
    recording = json.loads((shared_dir / "fixtures/x/v2_dm_create_and_get_dm_events.json").read_text())
    page = next(i["response"] for i in recording["interactions"]
                if i["request"]["method"] == "GET" and i["response"]["body"].get("data"))
    body = page["body"]
    headers = {k: v for k, v in page["headers"].items() if k.startswith("x-rate-limit")}
    newest_only = {"data": body["data"][:1], "meta": {**body["meta"], "result_count": 1}}
    fake = GraphFake()
    try:
        fake.on("GET", f"2/users/{kit_a.channel.external_account_id}/mentions", {"meta": {"result_count": 0}})
        fake.on("GET", "2/dm_events", body, headers=headers)
        fake.on("GET", "2/dm_events", newest_only, headers=headers)
        ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(api_base_url=fake.base_url)
        kit_a.channel.refresh_from_db()
        _poll(kit_a)
        letters = DeadLetter.objects.filter(channel=kit_a.channel).count()
        assert letters == len(body["data"]) and _usage(kit_a.channel).dm_events_read == len(body["data"])
        for _ in range(3):
            _poll(kit_a)
    finally:
        fake.stop()
    dm_calls = [r for r in fake.requests if r["path"].endswith("/2/dm_events")]
    assert dm_calls[0]["query"]["max_results"] == ["100"]
    assert [c["query"]["max_results"] for c in dm_calls[1:]] == [["1"]] * 3
    assert _usage(kit_a.channel).dm_events_read == len(body["data"]) + 3
    assert DeadLetter.objects.filter(channel=kit_a.channel).count() == letters  # not dead-lettered again


@pytest.mark.django_db
def test_find_sent_look_ups_are_billed_as_the_reads_they_are(kit_a):
    sim = kit_a.simulator
    customer_dm = sim.store.add_dm("oi, preciso de ajuda", "cliente_dm", "pt")
    tweet = sim.add_post("@acme sem sinal")
    connector = connector_for(kit_a.channel)
    start = timezone.now()
    dm = OutboundMessage(visibility="private", text="Olá! Vamos verificar.",
                         recipient_external_id=customer_dm["sender_id"])
    reply = OutboundMessage(visibility="public", text="Vamos ver!", in_reply_to_external_id=tweet["id"])
    sent_dm, sent_reply = connector.send(dm), connector.send(reply)
    before = _usage(kit_a.channel)

    assert connector.find_sent(dm, since=start) == sent_dm
    after_dm = _usage(kit_a.channel)
    # The conversation holds the customer's DM and ours: both events returned, both billed.
    assert after_dm.dm_events_read - before.dm_events_read == 2

    assert connector.find_sent(reply, since=start) == sent_reply
    after_reply = _usage(kit_a.channel)
    assert after_reply.posts_read - after_dm.posts_read == 1  # the brand's one tweet since the send
    assert after_reply.created == before.created == 2


@pytest.mark.django_db
def test_a_429_without_reset_moves_the_next_poll_a_whole_rate_window(kit_a):
    # Written from X's documented 429 (docs.x.com/fundamentals/rate-limits); no recording has a 429.
    too_many = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    fake = GraphFake()
    try:
        fake.on("GET", f"2/users/{kit_a.channel.external_account_id}/mentions", too_many, status=429)
        ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(api_base_url=fake.base_url)
        before = timezone.now()
        run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    finally:
        fake.stop()
    kit_a.channel.refresh_from_db()
    assert run.outcome == "failed" and "rate limit" in run.error
    assert kit_a.channel.next_poll_at >= before + timedelta(minutes=15)
    assert run.rate_note == "rate limited: next poll in 900 s"
    assert len(fake.requests) == 1


@pytest.mark.django_db
def test_a_spent_budget_pauses_polling_until_raised_and_the_page_says_so(kit_a):
    sim = kit_a.simulator
    sim.add_post("@acme sem sinal")
    client = login(kit_a.admin)
    client.post(f"/t/acme/channels/{kit_a.channel.pk}/budget/", {"monthly_budget_usd": "0.50"})
    api_usage_add(channel=kit_a.channel, dm_events_read=50)  # $0.50: the month's budget is spent

    calls = len(sim.store.requests)
    run = _poll(kit_a)
    now = timezone.now()
    month_turn = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    assert len(sim.store.requests) == calls  # nothing asked of X, nothing billed
    assert run.fetched == 0 and abs(kit_a.channel.next_poll_at - month_turn) < timedelta(seconds=5)
    assert run.rate_note == f"X budget spent: polling paused until {month_turn:%Y-%m-%d %H:%M} UTC"
    assert _usage(kit_a.channel).posts_read == 0

    page = client.get(f"/t/acme/channels/{kit_a.channel.pk}/").content.decode()
    assert "Budget spent ($0.500 of $0.50): polling of this channel is paused until" in page
    assert "To resume polling now, raise the budget or empty it for no ceiling." in page

    client.post(f"/t/acme/channels/{kit_a.channel.pk}/budget/", {"monthly_budget_usd": "20"})
    kit_a.channel.refresh_from_db()
    assert kit_a.channel.next_poll_at <= timezone.now()  # due at once, not next month
    run = _poll(kit_a)
    assert run.stored == 1 and "paused" not in run.rate_note
    assert "polling of this channel is paused" not in client.get(f"/t/acme/channels/{kit_a.channel.pk}/").content \
        .decode()


@pytest.mark.django_db
def test_below_the_budget_the_pace_spaces_polls_to_stay_inside_it(kit_a):
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(monthly_budget_usd=Decimal("5"))
    kit_a.channel.refresh_from_db()
    tenth = timezone.now().replace(day=10, hour=0, minute=0, second=0, microsecond=0)
    ApiUsage.objects.create(tenant=kit_a.tenant, channel=kit_a.channel, month=tenth.date().replace(day=1),
                            dm_events_read=300)  # $3 in nine days: $10 by the month's end at this pace
    summary = usage_summary(kit_a.tenant, kit_a.channel, now=tenth)
    assert summary.paused_until is None and summary.spend_usd == Decimal("3.000")
    # About $7 more at this pace against the $2 left: polls spaced some 3.5 times (3.2 to 3.7 by month length).
    assert 3.0 < summary.budget_pace < 4.0
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(monthly_budget_usd=Decimal("50"))
    kit_a.channel.refresh_from_db()
    assert usage_summary(kit_a.tenant, kit_a.channel, now=tenth).budget_pace is None


@pytest.mark.django_db
def test_another_tenant_cannot_see_or_raise_a_paused_budget(kit_a, kit_b):
    from channels_ingest.services import channel_budget_set

    channel_budget_set(tenant=kit_a.tenant, channel=kit_a.channel, monthly_budget_usd=Decimal("0.10"))
    api_usage_add(channel=kit_a.channel, dm_events_read=10)
    _poll(kit_a)
    paused_at = kit_a.channel.next_poll_at
    client_b = login(kit_b.admin)
    assert client_b.post(f"/t/beta/channels/{kit_a.channel.pk}/budget/", {"monthly_budget_usd": ""}).status_code \
        == 404
    assert client_b.post(f"/t/acme/channels/{kit_a.channel.pk}/budget/", {"monthly_budget_usd": ""}).status_code \
        == 404
    assert client_b.get(f"/t/beta/channels/{kit_a.channel.pk}/").status_code == 404
    assert "0.10" not in client_b.get(f"/t/beta/channels/{kit_b.channel.pk}/").content.decode()
    kit_a.channel.refresh_from_db()
    assert kit_a.channel.monthly_budget_usd == Decimal("0.10") and kit_a.channel.next_poll_at == paused_at


@pytest.mark.django_db
def test_a_pt_br_admin_reads_the_pause_in_portuguese(kit_a):
    kit_a.tenant.locale = "pt-br"
    kit_a.tenant.save(update_fields=["locale"])
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(monthly_budget_usd=Decimal("0.10"))
    api_usage_add(channel=kit_a.channel, dm_events_read=10)
    _poll(kit_a)
    admin = login(kit_a.admin)
    page = admin.get(f"/t/acme/channels/{kit_a.channel.pk}/").content.decode()
    for text in ("Orçamento esgotado (US$ 0,100 de US$ 0,10): a coleta deste canal está pausada até",
                 "Para retomar a coleta agora, aumente o orçamento", "orçamento do X esgotado: coleta pausada até"):
        assert text in page, text
    # A number input takes "0.10", never the localised "0,10" (a browser shows that empty, and saving clears it).
    assert 'name="monthly_budget_usd" value="0.10"' in page
    saved = admin.post(f"/t/acme/channels/{kit_a.channel.pk}/budget/", {"monthly_budget_usd": "1"}, follow=True)
    assert "e pausa quando o orçamento se esgota" in saved.content.decode()


@pytest.mark.django_db
def test_posts_and_dms_x_pushes_by_webhook_are_billed_like_polled_ones(kit_a, django_capture_on_commit_callbacks):
    """X's Account Activity reference: the posts it delivers count towards the app's Post reads."""
    from django.test import Client

    from .test_webhooks import X_ACTIVITY, x_sign

    channel = kit_a.channel
    body = json.dumps(X_ACTIVITY).encode()  # one post and one DM
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(f"/hooks/x/{channel.webhook_key}/", body, content_type="application/json",
                                 HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=x_sign(body, channel.credentials["consumer_secret"]))
    assert response.status_code == 200
    usage = _usage(channel)
    assert (usage.posts_read, usage.dm_events_read) == (1, 1)
    summary = usage_summary(kit_a.tenant, channel)
    assert summary.spend_usd == Decimal("0.015")  # $0.005 for the post, $0.010 for the DM event
