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

from channels_ingest.models import ApiUsage, ChannelAccount, Mention
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


def test_the_search_failing_keeps_the_mentions_and_the_dms(kit_a):
    sim = kit_a.simulator
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(search_terms="acmefibra")
    assert _poll(kit_a).outcome == "ok"
    sim.add_post("@acmetelecom sem sinal desde cedo")
    sim.add_dm("podem me ligar?", author_username="rita")
    sim.inject_fault("server_error", route="search_recent")

    run = _poll(kit_a)

    assert run.outcome == "ok" and "X did not serve the search for the channel's terms this poll" in run.error
    assert "sem sinal desde cedo" in " ".join(_texts(kit_a, "post"))
    assert "podem me ligar?" in _texts(kit_a, "direct")
    assert "search" not in kit_a.channel.cursor or kit_a.channel.cursor["search"] is not None


def _messenger_fails(monkeypatch, graph, error: GraphError) -> list[int]:
    real, hits = graph.route, []

    def route(method, path, body, files=None, params=None):
        if method == "GET" and path.rstrip("/").endswith("/conversations"):
            hits.append(1)
            raise error
        return real(method, path, body, files, params)

    monkeypatch.setattr(graph, "route", route)
    return hits


@pytest.mark.parametrize(("error", "said"), [
    (GraphError(500, 2, "An unexpected error has occurred. Please retry your request later."), "unexpected error"),
    (GraphError(403, 10, "(#10) Requires pages_messaging permission to manage the object"), "pages_messaging"),
])
def test_the_messenger_inbox_failing_or_refused_keeps_the_comments_and_the_channel(
        kit_a, django_capture_on_commit_callbacks, monkeypatch, error, said):
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

    run = poll(kit_a, channel, capture)

    channel.refresh_from_db()
    assert hits and run.outcome == "ok" and channel.status == ChannelAccount.Status.ACTIVE
    assert "Graph did not list the Messenger conversations" in run.error and said in run.error
    assert comment["id"] in stored(channel) and message["id"] not in stored(channel)
    assert channel.cursor.get("conversations_mark") == mark
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
