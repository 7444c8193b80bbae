"""One endpoint of a channel failing or refused never costs the others (SAC issue #3: "surviving everything the real
APIs throw at them", "never a crash loop"): the X DM list or search, or the Facebook Messenger inbox, failing (a 5xx,
its own 429) or refused (this app may not read it) leaves that part out of the poll with a note on the poll run; the
mentions or comments read in the same fetch are stored (and, on X, not read and billed again at the next poll); the
channel stays active; and the part left out is read at the next poll. A refused token still stops the channel
(needs re-authorisation: tests/channels_ingest/test_ingest.py).

Against the loopback simulator: X faults answer with X's own bodies (the 503 and 429 problems, and the 403
client-forbidden problem of the X API v2 error reference); the Graph errors are Graph's (code 2 "An unexpected error
has occurred", and code 10 "Requires pages_messaging permission", from the Graph API error reference).
"""

import time

import pytest
from django.utils import timezone

from channels_ingest.facebook.client import DEFAULT_RATE_WAIT_SECONDS
from channels_ingest.models import ApiUsage, ChannelAccount, DeadLetter, Mention
from channels_ingest.services import channel_poll
from channels_ingest.simulator.graph import GraphError

from .test_graph_polling_meta import fb_channel, poll, stored

pytestmark = pytest.mark.django_db


def _poll(kit):
    ChannelAccount.objects.filter(pk=kit.channel.pk).update(next_poll_at=timezone.now())
    run = channel_poll(tenant_id=kit.tenant.pk, channel_id=kit.channel.pk)
    kit.channel.refresh_from_db()
    return run


def _texts(kit, kind: str) -> set[str]:
    return set(Mention.objects.filter(tenant=kit.tenant, channel=kit.channel, kind=kind).values_list("text", flat=True))


def _posts_read(kit) -> int:
    usage = ApiUsage.objects.filter(tenant=kit.tenant, channel=kit.channel).first()
    return usage.posts_read if usage else 0


@pytest.mark.parametrize(("fault", "note"), [
    ("server_error", "X did not serve the DMs this poll"),
    ("rate_limit", "X did not serve the DMs this poll (X rate limit reached)"),
    ("forbidden", "X refused the DMs (X answered 403"),
])
def test_the_dm_list_failing_or_refused_keeps_the_mentions_and_is_read_at_the_next_poll(kit_a, fault, note):
    sim = kit_a.simulator
    assert _poll(kit_a).outcome == "ok"  # the first poll: the cursors are set
    sim.add_post("@acmetelecom a fibra caiu de novo no bairro")
    sim.add_dm("meu protocolo é 2024-555, alguém me responde?", author_username="rita")
    dm_cursor = kit_a.channel.cursor.get("dm_newest")
    sim.inject_fault(fault, route="dm_events")

    run = _poll(kit_a)

    assert run.outcome == "ok" and kit_a.channel.status == ChannelAccount.Status.ACTIVE
    assert note in run.error
    assert "a fibra caiu de novo no bairro" in " ".join(_texts(kit_a, "post"))
    assert not any("2024-555" in t for t in _texts(kit_a, "direct"))
    assert kit_a.channel.cursor.get("dm_newest") == dm_cursor  # the DMs are still to be read
    read = _posts_read(kit_a)

    again = _poll(kit_a)

    assert again.outcome == "ok" and again.error == ""
    assert any("2024-555" in t for t in _texts(kit_a, "direct"))
    assert _posts_read(kit_a) == read  # the mentions were not read (and billed) a second time


@pytest.mark.parametrize("fault", ["server_error", "invalid_json"])
def test_the_search_failing_keeps_the_mentions_and_the_dms_and_goes_on_from_where_it_was(kit_a, fault):
    sim = kit_a.simulator
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(search_terms="acmefibra")
    sim.add_post("a acmefibra caiu")
    assert _poll(kit_a).outcome == "ok"
    searched = dict(kit_a.channel.cursor["search"])
    assert searched["since_id"]
    sim.add_post("@acmetelecom sem sinal desde cedo, acmefibra")
    sim.add_dm("podem me ligar?", author_username="rita")
    sim.inject_fault(fault, route="search_recent")

    run = _poll(kit_a)

    assert run.outcome == "ok" and "X did not serve the search for the channel's terms this poll" in run.error
    assert "@acmetelecom sem sinal desde cedo, acmefibra" in _texts(kit_a, "post")
    assert "podem me ligar?" in _texts(kit_a, "direct")
    assert kit_a.channel.cursor["search"] == searched  # the search goes on from where it was
    letters = DeadLetter.objects.filter(tenant=kit_a.tenant, channel=kit_a.channel)
    assert letters.count() == (1 if fault == "invalid_json" else 0)  # an unreadable answer is kept, with the reason
    asked = len(sim.requests)
    assert _poll(kit_a).error == ""
    [search] = [r for r in sim.requests[asked:] if "search/recent" in r["path"]]
    assert f"since_id={searched['since_id']}" in search["path"]


def test_a_429_on_the_search_puts_the_next_poll_off_even_when_the_dms_are_read(kit_a):
    from channels_ingest.connectors import connector_for
    from channels_ingest.simulator.server import RATE_LIMIT_PENALTY_SECONDS

    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(search_terms="acmefibra")
    assert _poll(kit_a).outcome == "ok"
    kit_a.simulator.add_dm("oi?", author_username="rita")
    kit_a.simulator.inject_fault("rate_limit", route="search_recent")
    page = connector_for(kit_a.channel).fetch_page()
    assert any(i.text == "oi?" for i in page.items)  # the DMs were read
    assert page.next_poll_in_seconds >= RATE_LIMIT_PENALTY_SECONDS


def test_a_dm_page_failing_after_the_first_goes_on_from_it_at_the_next_poll_not_from_the_top(kit_a, monkeypatch):
    from channels_ingest.simulator import queries
    from channels_ingest.simulator.store import ApiError

    sim = kit_a.simulator
    sim.add_dm("a primeira", author_username="rita")
    assert _poll(kit_a).outcome == "ok"
    burst = [sim.add_dm(f"crise {n}", author_username=f"cliente{n}")["id"] for n in range(6)]
    real, calls = queries.dm_events, []

    def second_fails(store, params):
        calls.append(params)
        if len(calls) == 2:
            raise ApiError(503, {"title": "Service Unavailable", "detail": "Service Unavailable", "status": 503,
                                 "type": "about:blank"})
        return real(store, params)

    monkeypatch.setattr(queries, "dm_events", second_fails)

    run = _poll(kit_a)

    assert run.outcome == "ok" and "X did not serve the DMs this poll" in run.error
    first_page = set(Mention.objects.filter(channel=kit_a.channel, kind="direct").values_list("external_id",
                                                                                            flat=True))
    assert burst[-1] in first_page  # the newest, on the page read before the failure: stored
    token = kit_a.channel.cursor["dm_next_token"]
    assert token and run.stored == 1 and len(calls) == 2  # the failing poll did not go on by itself

    _poll(kit_a)

    assert calls[2].get("pagination_token") == token  # on from the page that failed, not the newest again
    stored_ids = list(Mention.objects.filter(channel=kit_a.channel, kind="direct").values_list("external_id",
                                                                                             flat=True))
    assert set(burst) <= set(stored_ids) and len(stored_ids) == len(set(stored_ids))


def _messenger_fails(monkeypatch, graph, error: GraphError) -> list[int]:
    real, hits = graph.route, []

    def route(method, path, body, files=None, params=None):
        if method == "GET" and path.rstrip("/").endswith("/conversations"):
            hits.append(1)
            raise error
        return real(method, path, body, files, params)

    monkeypatch.setattr(graph, "route", route)
    return hits


@pytest.mark.parametrize(("error", "said", "wait"), [
    (GraphError(500, 2, "An unexpected error has occurred. Please retry your request later."), "unexpected error",
     0),
    (GraphError(403, 10, "(#10) Requires pages_messaging permission to manage the object"), "pages_messaging", 0),
    # Graph's code 32, "Page request limit reached" (the Graph API error reference), with no usage headers to go
    # by: the next poll waits as Meta asks (the comments read are kept, not read and counted again then).
    (GraphError(400, 32, "(#32) Page request limit reached"), "limit", DEFAULT_RATE_WAIT_SECONDS),
])
def test_the_messenger_inbox_failing_refused_or_rate_limited_keeps_the_comments_and_the_channel(
        kit_a, django_capture_on_commit_callbacks, monkeypatch, error, said, wait):
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel = fb_channel(kit_a)
    assert poll(kit_a, channel, capture).outcome == "ok"
    channel.refresh_from_db()
    mark = channel.cursor.get("conversations_mark")
    time.sleep(1.1)  # Graph times are to the second
    comment = graph.add_comment("A fatura veio em dobro", "Joana")
    message = graph.add_message("Podem ver meu contrato?", "Joana")
    hits = _messenger_fails(monkeypatch, graph, error)
    before = timezone.now()

    run = poll(kit_a, channel, capture)

    channel.refresh_from_db()
    assert hits and run.outcome == "ok" and channel.status == ChannelAccount.Status.ACTIVE
    assert "Graph did not list the Messenger conversations" in run.error and said in run.error
    assert comment["id"] in stored(channel) and message["id"] not in stored(channel)
    assert channel.cursor.get("conversations_mark") == mark
    assert (channel.next_poll_at - before).total_seconds() >= wait
    monkeypatch.undo()
    assert poll(kit_a, channel, capture).outcome == "ok" and message["id"] in stored(channel)


def test_a_429_on_the_dm_list_puts_the_next_poll_off_until_its_window_resets(kit_a):
    from channels_ingest.connectors import connector_for
    from channels_ingest.simulator.server import RATE_LIMIT_PENALTY_SECONDS

    assert _poll(kit_a).outcome == "ok"
    kit_a.simulator.inject_fault("rate_limit", route="dm_events")
    page = connector_for(kit_a.channel).fetch_page()
    # The simulator's 429 resets its window a few seconds later (x-rate-limit-reset): channel_poll waits that long.
    assert page.next_poll_in_seconds >= RATE_LIMIT_PENALTY_SECONDS
    assert page.notes == ["X did not serve the DMs this poll (X rate limit reached); tried again at the next poll"]
