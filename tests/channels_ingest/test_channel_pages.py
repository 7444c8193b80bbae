"""Tenant-admin channel pages: list (with needs-reauth), connect simulated X and Facebook, health, replay."""

import pytest

from channels_ingest.models import ChannelAccount, DeadLetter, Mention, Platform
from channels_ingest.services import channel_poll

from ..conftest import login


@pytest.mark.django_db
def test_admin_sees_channels_and_the_ones_needing_reauth(kit_a):
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(status="needs_reauth",
                                                              status_detail="X refused the channel's credentials")
    page = login(kit_a.admin).get("/t/acme/channels/")
    assert page.status_code == 200
    assert b"needs re-authorisation" in page.content and b"X refused the channel" in page.content
    assert login(kit_a.agent).get("/t/acme/channels/").status_code == 403


@pytest.mark.django_db
def test_connect_simulated_x_and_facebook(kit_a, settings):
    settings.SAC_SIMULATOR_URL = kit_a.simulator.base_url
    client = login(kit_a.admin)
    ChannelAccount.objects.filter(tenant=kit_a.tenant).delete()
    response = client.post("/t/acme/channels/connect/", {"kind": "simulator_x", "name": "Acme on X"})
    assert response.status_code == 302
    x = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.SIMULATOR)
    assert x.webhook_key and x.credentials["bearer_token"]
    response = client.post("/t/acme/channels/connect/", {"kind": "simulator_facebook", "name": "Acme page"})
    assert response.status_code == 302
    fb = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.FACEBOOK)
    assert fb.api_base_url.startswith(kit_a.simulator.base_url)
    health = client.get(f"/t/acme/channels/{fb.pk}/")
    assert health.status_code == 200 and fb.webhook_key.encode() in health.content
    assert b"sim-page-token" not in health.content  # tokens are never shown back
    bad = client.post("/t/acme/channels/connect/", {"kind": "facebook", "name": "Real page"})
    assert bad.status_code == 400 and b"Needed to connect a real account" in bad.content


@pytest.mark.django_db
def test_health_page_shows_poll_runs_and_replays_a_dead_letter(kit_a):
    kit_a.simulator.store.faults.append("bad_item")
    kit_a.simulator.add_post("@acme sem sinal 📵 desde ontem")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    client = login(kit_a.admin)
    page = client.get(f"/t/acme/channels/{kit_a.channel.pk}/")
    assert b"poll-runs" in page.content and b"OK" in page.content
    letter = DeadLetter.objects.get(tenant=kit_a.tenant)
    assert letter.reason.encode() in page.content
    # Still unreadable: the replay says why and keeps it.
    response = client.post(f"/t/acme/channels/{kit_a.channel.pk}/dead-letters/{letter.pk}/replay/", follow=True)
    assert b"Still unreadable" in response.content
    letter.refresh_from_db()
    assert letter.resolved_at is None


@pytest.mark.django_db
def test_replay_after_a_fix_stores_the_mention_once(kit_a):
    from channels_ingest.services import dead_letter_record, dead_letter_replay

    payload = {"id": "1860000000000000009", "text": "@acme fatura errada", "author_id": "42",
               "created_at": "2026-11-23T10:15:42.000Z"}
    letter = dead_letter_record(tenant=kit_a.tenant, channel=kit_a.channel, source="poll",
                                reason="a parser bug (fixed since)", payload=payload)
    result = dead_letter_replay(tenant=kit_a.tenant, dead_letter_id=letter.pk)
    assert len(result.stored_ids) == 1
    assert Mention.objects.filter(channel=kit_a.channel, external_id="1860000000000000009").count() == 1
    with pytest.raises(DeadLetter.DoesNotExist):
        dead_letter_replay(tenant=kit_a.tenant, dead_letter_id=letter.pk)


@pytest.mark.django_db
def test_another_tenant_cannot_see_or_replay(kit_a, kit_b):
    letter = DeadLetter.objects.create(tenant=kit_a.tenant, channel=kit_a.channel, source="poll",
                                       reason="secret A", payload='{"id": "1"}')
    client_b = login(kit_b.admin)
    assert client_b.get(f"/t/beta/channels/{kit_a.channel.pk}/").status_code == 404
    assert client_b.post(f"/t/beta/channels/{kit_a.channel.pk}/dead-letters/{letter.pk}/replay/").status_code == 404
    assert client_b.post(f"/t/beta/channels/{kit_b.channel.pk}/dead-letters/{letter.pk}/replay/").status_code == 404
    assert client_b.get(f"/t/acme/channels/{kit_a.channel.pk}/").status_code == 404
    assert client_b.post(f"/t/beta/channels/{kit_a.channel.pk}/budget/", {"monthly_budget_usd": "1"}).status_code \
        == 404
    assert b"secret A" not in client_b.get("/t/beta/channels/").content
    letter.refresh_from_db()
    kit_a.channel.refresh_from_db()
    assert letter.resolved_at is None and kit_a.channel.monthly_budget_usd is None


@pytest.mark.django_db
def test_a_simulated_facebook_page_fills_the_inbox_and_answers(kit_a, settings, django_capture_on_commit_callbacks):
    from channels_ingest.connectors import connector_for
    from channels_ingest.errors import PermanentError
    from channels_ingest.types import OutboundMessage
    from inbox.models import Case

    settings.SAC_SIMULATOR_URL = kit_a.simulator.base_url
    login(kit_a.admin).post("/t/acme/channels/connect/", {"kind": "simulator_facebook", "name": "Acme page"})
    page = ChannelAccount.objects.get(tenant=kit_a.tenant, platform=Platform.FACEBOOK)
    comment = kit_a.simulator.graph.add_comment("Estou sem internet há dois dias, ninguém resolve!", "Ana Souza")
    kit_a.simulator.graph.add_message("Olá, quero cancelar meu plano", "Bruno Lima")
    with django_capture_on_commit_callbacks(execute=True):
        run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=page.pk)
    assert run.outcome == "ok", run.error
    stored = Mention.objects.get(channel=page, external_id=comment["id"])
    assert stored.author.name == "Ana Souza" and stored.permalink == comment["permalink_url"]
    assert Mention.objects.filter(channel=page, kind="direct", text="Olá, quero cancelar meu plano").exists()
    assert Case.objects.filter(tenant=kit_a.tenant, channel=page).exists()
    # Only the page's own post came back as ours.
    assert list(Mention.objects.filter(channel=page, direction="out").values_list("kind", flat=True)) == ["post"]

    connector = connector_for(page)
    connector.send(OutboundMessage(visibility="public", text="Ana, vamos resolver!",
                                   in_reply_to_external_id=comment["id"]))
    connector.send(OutboundMessage(visibility="private", text="Ana, me passa o seu CPF?",
                                   in_reply_to_external_id=comment["id"]))
    with pytest.raises(PermanentError, match="only one private reply per comment"):
        connector.send(OutboundMessage(visibility="private", text="de novo", in_reply_to_external_id=comment["id"]))
    assert [s["kind"] for s in kit_a.simulator.graph.sent] == ["comment", "message"]
    # Our public reply comes back on the next poll: stored as ours, no new case.
    cases_before = Case.objects.filter(tenant=kit_a.tenant).count()
    with django_capture_on_commit_callbacks(execute=True):
        channel_poll(tenant_id=kit_a.tenant.pk, channel_id=page.pk)
    assert Mention.objects.get(channel=page, text="Ana, vamos resolver!").direction == "out"
    assert Case.objects.filter(tenant=kit_a.tenant).count() == cases_before


@pytest.mark.django_db
def test_x_spend_is_counted_shown_and_a_budget_slows_polling(kit_a):
    from datetime import timedelta

    from django.utils import timezone

    from channels_ingest.connectors import connector_for
    from channels_ingest.models import ApiUsage
    from channels_ingest.types import OutboundMessage

    sim = kit_a.simulator
    tweet = sim.add_post("@acme sem sinal")
    for i in range(3):
        sim.add_post(f"@acme post {i}")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    connector_for(kit_a.channel).send(OutboundMessage(visibility="public", text="Vamos ver!",
                                                      in_reply_to_external_id=tweet["id"]))
    usage = ApiUsage.objects.get(channel=kit_a.channel)
    assert (usage.posts_read, usage.created) == (4, 1)
    client = login(kit_a.admin)
    page = client.get(f"/t/acme/channels/{kit_a.channel.pk}/")
    assert b"Spend so far: <strong>$0.035</strong>" in page.content

    # A budget already spent pauses polling until the month turns (test_x_billing.py covers pause and pace).
    client.post(f"/t/acme/channels/{kit_a.channel.pk}/budget/", {"monthly_budget_usd": "0.01"})
    kit_a.channel.refresh_from_db()
    assert str(kit_a.channel.monthly_budget_usd) == "0.01"
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(poll_lease_until=None)
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    kit_a.channel.refresh_from_db()
    assert "X budget" in run.rate_note
    assert kit_a.channel.next_poll_at > timezone.now() + timedelta(seconds=kit_a.channel.poll_interval_seconds * 2)
    assert b"polling of this channel is paused until" in client.get(f"/t/acme/channels/{kit_a.channel.pk}/").content
