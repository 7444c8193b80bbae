"""The brand's X search terms (SAC issue #3: keyword search for the brand's terms, `search_recent_tweets`): typed
by a tenant admin on the channel page, turned into a query X accepts whatever they type, refused with the reason
when X would refuse it, and a query X refuses anyway never stops the channel's mentions and DMs.

Against the loopback simulator, which refuses what X's query reference says X refuses (docs.x.com, "Build a
query": at most 512 characters on pay-per-use access; balanced quotes and parentheses).
"""

import pytest
from django.urls import reverse

from channels_ingest.connectors import connector_for
from channels_ingest.models import ChannelAccount, Mention
from channels_ingest.services import SearchTermsError, channel_poll, search_terms_clean
from channels_ingest.x.query import QUERY_MAX_CHARS, search_query, search_terms_parse, search_terms_text
from sac.models import AuditEvent

from ..conftest import login


def test_whatever_is_typed_becomes_a_query_of_plain_terms_and_exact_phrases():
    typed = ('acmefibra  "acme fibra" #AcmeFibra @acme_ajuda acme-tv (promo OR -golpe) acme: "and" acme\\ '
             '"sem fim ACMEFIBRA')
    assert search_terms_parse(typed) == ["acmefibra", "acme fibra", "#AcmeFibra", "@acme_ajuda", "acme-tv", "promo",
                                         "golpe", "acme:", "and", "acme", "sem fim ACMEFIBRA"]
    assert search_query(typed, "@acme") == (
        '(acmefibra OR "acme fibra" OR #AcmeFibra OR @acme_ajuda OR "acme-tv" OR promo OR golpe OR "acme:" OR "and" '
        'OR acme OR "sem fim ACMEFIBRA") -is:retweet -from:acme')
    assert search_terms_parse(search_terms_text(search_terms_parse(typed))) == search_terms_parse(typed)
    assert search_terms_parse('"" ( ) - "') == [] and search_query("  ", "acme") == ""
    assert search_terms_parse("Acme acme ACME") == ["Acme"]  # X matches terms case-insensitively: once is enough


def test_terms_whose_query_x_would_refuse_for_its_length_are_refused_with_the_reason():
    many = " ".join(f"t{n:02d}" for n in range(90))  # 359 characters typed (the field holds 400), a longer query
    assert len(search_query(many, "acme")) == 651
    with pytest.raises(SearchTermsError) as refused:
        search_terms_clean(many, handle="acme")
    assert f"X takes at most {QUERY_MAX_CHARS}" in str(refused.value) and "651 characters" in str(refused.value)
    assert search_terms_clean(" ".join(many.split()[:60]), handle="acme").startswith("t00 t01")  # 441: taken
    with pytest.raises(SearchTermsError, match="at most 400 characters"):
        search_terms_clean("x" * 401, handle="acme")


@pytest.mark.django_db
def test_an_admin_edits_the_terms_on_the_channel_page_and_the_next_poll_searches_them(kit_a):
    sim = kit_a.simulator
    channel = kit_a.channel
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk).outcome == "ok"
    ChannelAccount.objects.filter(pk=channel.pk).update(cursor={**channel.cursor, "search": {"since_id": "1"}})
    admin = login(kit_a.admin)
    page = admin.get(reverse("channels_ingest:health", args=[kit_a.tenant.slug, channel.pk]))
    assert 'id="x-search"' in page.content.decode()

    response = admin.post(reverse("channels_ingest:search_terms", args=[kit_a.tenant.slug, channel.pk]),
                          {"search_terms": 'acmefibra "acme (fibra)"'}, follow=True)

    assert "Search terms saved: the next poll searches X for acmefibra &quot;acme fibra&quot;" \
        in response.content.decode()
    channel.refresh_from_db()
    assert channel.search_terms == 'acmefibra "acme fibra"' and "search" not in channel.cursor  # afresh
    assert connector_for(channel).search_query() == \
        f'(acmefibra OR "acme fibra") -is:retweet -from:{channel.handle.lstrip("@")}'
    [audit] = AuditEvent.objects.filter(tenant=kit_a.tenant, verb="channel.search_terms_set")
    assert audit.data == {"before": "", "after": 'acmefibra "acme fibra"'} and audit.actor == kit_a.admin.user
    sim.add_post("minha acmefibra está lenta hoje")
    ChannelAccount.objects.filter(pk=channel.pk).update(next_poll_at=channel.next_poll_at)
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk).outcome == "ok"
    searched = [r for r in sim.store.requests if "search/recent" in r["path"]]
    assert searched and "acmefibra" in searched[-1]["path"]

    too_long = " ".join(f"t{n:02d}" for n in range(90))
    response = admin.post(reverse("channels_ingest:search_terms", args=[kit_a.tenant.slug, channel.pk]),
                          {"search_terms": too_long}, follow=True)
    assert "X takes at most 512" in response.content.decode()
    channel.refresh_from_db()
    assert channel.search_terms == 'acmefibra "acme fibra"'


@pytest.mark.django_db
def test_a_search_x_refuses_leaves_the_mentions_and_dms_flowing_and_the_run_says_why(kit_a):
    # Terms saved before they were checked (or a rule X adds later): X answers 400 to the search.
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(search_terms=" ".join(f"t{n:02d}" for n in range(90)))
    kit_a.simulator.add_post("@acmetelecom sem internet desde ontem")

    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)

    channel = ChannelAccount.objects.get(pk=kit_a.channel.pk)
    assert run.outcome == "ok" and channel.status == ChannelAccount.Status.ACTIVE
    assert Mention.objects.filter(channel=channel, text__contains="sem internet").exists()
    assert "X refused the search for the channel's terms" in run.error and "512" in run.error
    assert "the rest of the channel was read" in run.error
    kit_a.tenant.locale = "pt-br"  # the brand's language (tests/channels_ingest/test_i18n_channel_pages.py)
    kit_a.tenant.save(update_fields=["locale"])
    page = login(kit_a.admin).get(reverse("channels_ingest:health", args=[kit_a.tenant.slug, channel.pk]))
    assert "O X recusou a busca pelos termos do canal" in page.content.decode()


@pytest.mark.django_db
def test_another_brand_cannot_change_the_terms_and_an_agent_gets_a_403(kit_a, kit_b):
    url = reverse("channels_ingest:search_terms", args=[kit_a.tenant.slug, kit_a.channel.pk])
    assert login(kit_a.agent).post(url, {"search_terms": "golpe"}).status_code == 403
    other = login(kit_b.admin)
    assert other.post(url, {"search_terms": "golpe"}).status_code in (403, 404)
    assert other.post(reverse("channels_ingest:search_terms", args=[kit_b.tenant.slug, kit_a.channel.pk]),
                      {"search_terms": "golpe"}).status_code == 404
    assert ChannelAccount.objects.get(pk=kit_a.channel.pk).search_terms == ""


@pytest.mark.django_db
def test_the_connect_form_cleans_the_terms_and_refuses_a_query_x_would_refuse(kit_a, settings):
    settings.SAC_SIMULATOR_URL = kit_a.simulator.base_url
    ChannelAccount.objects.filter(tenant=kit_a.tenant).delete()
    admin = login(kit_a.admin)
    url = reverse("channels_ingest:connect", args=[kit_a.tenant.slug])
    refused = admin.post(url, {"kind": "simulator_x", "name": "Acme on X",
                               "search_terms": " ".join(f"t{n:02d}" for n in range(90))})
    assert refused.status_code == 400 and "X takes at most 512" in refused.content.decode()
    assert not ChannelAccount.objects.filter(tenant=kit_a.tenant).exists()
    assert admin.post(url, {"kind": "simulator_x", "name": "Acme on X",
                            "search_terms": '(acmefibra OR "acme fibra'}).status_code == 302
    assert ChannelAccount.objects.get(tenant=kit_a.tenant).search_terms == 'acmefibra "acme fibra"'


@pytest.mark.django_db
def test_a_poll_that_began_before_the_terms_changed_cannot_hand_the_new_query_the_old_ones_cursor(kit_a):
    from channels_ingest.services import channel_search_terms_set

    channel = kit_a.channel
    channel_search_terms_set(tenant=kit_a.tenant, channel=channel, search_terms="acmefibra")
    kit_a.simulator.add_post("minha acmefibra está lenta hoje")
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk).outcome == "ok"
    channel.refresh_from_db()
    stale = dict(channel.cursor)
    assert stale["search"]["since_id"] and stale["search"]["q"]
    channel_search_terms_set(tenant=kit_a.tenant, channel=channel, search_terms="acmetv")
    # The poll in flight when the terms changed commits the cursor it began with (ingest_batch writes it whole).
    ChannelAccount.objects.filter(pk=channel.pk).update(cursor=stale)
    channel.refresh_from_db()
    asked = len(kit_a.simulator.requests)

    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk).outcome == "ok"

    [search] = [r for r in kit_a.simulator.requests[asked:] if "search/recent" in r["path"]]
    assert "acmetv" in search["path"] and "since_id" not in search["path"]  # afresh, from the newest posts
    channel.refresh_from_db()
    assert channel.cursor["search"]["q"] != stale["search"]["q"]


@pytest.mark.django_db
@pytest.mark.parametrize("matching", [True, False])
def test_a_search_last_read_over_7_days_ago_starts_again_from_the_newest_instead_of_failing_for_ever(
        kit_a, monkeypatch, matching):
    """X's recent search takes no since_id older than its 7 days (a 400 naming the oldest it takes): a channel whose
    polling was paused longer than that (the X budget pauses it until the month turns) would otherwise send the
    same since_id at every poll and never search the brand's terms again. It starts again from the newest posts,
    and stays in X's window at the next polls, minutes later, whether the terms matched anything or not."""
    import time as clock

    from channels_ingest.simulator import queries
    from channels_ingest.simulator.corpus import snowflake

    channel = kit_a.channel
    ChannelAccount.objects.filter(pk=channel.pk).update(search_terms="acmefibra")
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk).outcome == "ok"
    channel.refresh_from_db()
    eight_days_ago = str(snowflake(clock.time() - 8 * 86_400))
    ChannelAccount.objects.filter(pk=channel.pk).update(
        cursor={**channel.cursor, "search": {**channel.cursor["search"], "since_id": eight_days_ago}})
    if matching:
        kit_a.simulator.add_post("a acmefibra cobrou duas vezes este mês")

    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)

    assert run.outcome == "ok" and "X's search reaches back 7 days only" in run.error
    assert "refused" not in run.error
    assert Mention.objects.filter(channel=channel, text__contains="cobrou duas vezes").exists() == matching
    later = clock.time() + 5 * 60  # the next polls, minutes later: X's window has moved on
    monkeypatch.setattr(queries, "_clock", lambda: later)
    for _ in range(2):
        again = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
        assert again.outcome == "ok" and again.error == ""
