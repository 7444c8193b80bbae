"""Facebook and Instagram polling sees every new comment: replies inside threads, new comments on posts that
already have hundreds, Messenger conversations beyond the first page, Instagram comments and replies beyond their
first page, and nothing twice.

Against the loopback simulator (channels_ingest/simulator/graph.py, instagram.py), which pages like the Graph API
reference: `limit`, `paging.cursors.after` / `paging.next`, the comments edge's `filter=toplevel` (default) or
`stream` and `order=chronological` (default) or `reverse_chronological`.
"""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from channels_ingest.models import ChannelAccount, Mention, Platform
from channels_ingest.services import channel_create, channel_poll
from channels_ingest.simulator.graph import PAGE_ID
from inbox.models import Case


def fb_channel(kit):
    return channel_create(tenant=kit.tenant, platform=Platform.FACEBOOK, name="Acme no Facebook",
                          external_account_id=PAGE_ID, handle="acme",
                          api_base_url=f"{kit.simulator.base_url}/graph/v21.0",
                          credentials={"page_access_token": "page-token"})


def ig_channel(kit):
    ig = kit.simulator.instagram
    return channel_create(tenant=kit.tenant, platform=Platform.INSTAGRAM, name="@acmetelecom on Instagram",
                          external_account_id=ig.account_id, handle=ig.username,
                          api_base_url=f"{kit.simulator.base_url}/graph/v21.0",
                          credentials={"access_token": "ig-token"})


def poll(kit, channel, capture):
    ChannelAccount.objects.filter(tenant=kit.tenant, pk=channel.pk).update(next_poll_at=timezone.now())
    with capture(execute=True):  # triage runs on commit: cases open as they would in production
        return channel_poll(tenant_id=kit.tenant.pk, channel_id=channel.pk)


def stored(channel) -> dict[str, Mention]:
    return {m.external_id: m for m in Mention.objects.filter(tenant=channel.tenant, channel=channel)}


def graph_gets(kit, edge: str, since: int = 0) -> list[dict]:
    """The Graph GET requests the simulator answered on `edge` (after the first `since` requests of its log)."""
    found = []
    for request in kit.simulator.requests[since:]:
        parts = urlsplit(request["path"])
        if request["method"] == "GET" and parts.path.startswith("/graph/") and parts.path.endswith(f"/{edge}"):
            found.append({"path": parts.path, "query": parse_qs(parts.query)})
    return found


# ---------------------------------------------------------------- Facebook

@pytest.mark.django_db
def test_it_stores_a_customers_reply_inside_a_comment_thread_in_the_same_thread_and_case(
        kit_a, django_capture_on_commit_callbacks):
    graph = kit_a.simulator.graph
    channel = fb_channel(kit_a)
    first = graph.add_comment("Estou sem sinal desde ontem no centro", "Ana Souza")
    assert poll(kit_a, channel, django_capture_on_commit_callbacks).stored == 2  # the page's post and the comment

    answer = graph.add_comment("ainda sem sinal!", "Ana Souza", parent_id=first["id"])
    run = poll(kit_a, channel, django_capture_on_commit_callbacks)

    assert (run.outcome, run.stored) == ("ok", 1)
    mentions = stored(channel)
    reply = mentions[answer["id"]]
    assert reply.in_reply_to_external_id == first["id"]
    assert reply.conversation_id == mentions[first["id"]].conversation_id == graph.posts[0]["id"]
    case = Case.objects.get(tenant=kit_a.tenant, case_mentions__mention=mentions[first["id"]])
    assert Case.objects.get(tenant=kit_a.tenant, case_mentions__mention=reply) == case


@pytest.mark.django_db
def test_the_pages_own_reply_in_a_thread_comes_back_as_ours(kit_a, django_capture_on_commit_callbacks):
    graph = kit_a.simulator.graph
    channel = fb_channel(kit_a)
    first = graph.add_comment("Minha fatura veio errada", "Rui Lima")
    ours = graph.route("POST", f"/v21.0/{first['id']}/comments", {"message": "Oi Rui, já corrigimos."})
    poll(kit_a, channel, django_capture_on_commit_callbacks)
    mention = stored(channel)[ours["id"]]
    assert mention.direction == Mention.Direction.OUTBOUND and mention.in_reply_to_external_id == first["id"]


@pytest.mark.django_db
def test_a_new_comment_on_a_post_with_hundreds_is_fetched_on_the_next_poll(kit_a, django_capture_on_commit_callbacks):
    graph = kit_a.simulator.graph
    channel = fb_channel(kit_a)
    start = time.time() - 3600
    for n in range(260):  # more than the feed's page of 50 plus the 3 further pages one poll reads
        graph.add_comment(f"Comentário antigo {n}", f"Cliente {n}", at=start + n)
    first = poll(kit_a, channel, django_capture_on_commit_callbacks)
    # The post and its newest (1 + 3) × 50 comments: a first poll does not page the post's whole history.
    assert first.stored == 1 + 200
    before = len(kit_a.simulator.requests)

    new = graph.add_comment("Alguém pode me ajudar? Estou sem internet", "Cliente novo")
    again = poll(kit_a, channel, django_capture_on_commit_callbacks)

    assert again.stored == 1 and new["id"] in stored(channel)
    # The feed's newest-first page already reached what the last poll saw: no further comment pages were read.
    assert graph_gets(kit_a, "comments", since=before) == []
    assert Mention.objects.filter(tenant=kit_a.tenant, channel=channel, kind="comment").count() == 201


@pytest.mark.django_db
def test_comments_that_arrive_in_a_burst_are_paged_down_to_what_the_last_poll_saw(
        kit_a, django_capture_on_commit_callbacks):
    graph = kit_a.simulator.graph
    channel = fb_channel(kit_a)
    start = time.time() - 3600
    for n in range(30):
        graph.add_comment(f"Comentário {n}", f"Cliente {n}", at=start + n)
    assert poll(kit_a, channel, django_capture_on_commit_callbacks).stored == 1 + 30
    burst = [graph.add_comment(f"Caiu de novo {n}", f"Vizinho {n}", at=start + 600 + n) for n in range(120)]
    before = len(kit_a.simulator.requests)

    run = poll(kit_a, channel, django_capture_on_commit_callbacks)

    assert run.stored == 120 and {c["id"] for c in burst} <= set(stored(channel))
    assert len(graph_gets(kit_a, "comments", since=before)) == 2  # 50 in the feed, then 50 + 20 (reaching the mark)
    assert poll(kit_a, channel, django_capture_on_commit_callbacks).stored == 0


@pytest.mark.django_db
def test_a_messenger_conversation_beyond_the_first_25_is_read(kit_a, django_capture_on_commit_callbacks):
    graph = kit_a.simulator.graph
    channel = fb_channel(kit_a)
    messages = [graph.add_message(f"Preciso de ajuda com o pedido {n}", f"Cliente Messenger {n}") for n in range(30)]

    run = poll(kit_a, channel, django_capture_on_commit_callbacks)

    assert run.stored == 1 + 30 and {m["id"] for m in messages} <= set(stored(channel))
    later = graph.add_message("Alguém aí?", "Cliente Messenger 0")
    again = poll(kit_a, channel, django_capture_on_commit_callbacks)
    assert again.stored == 1 and later["id"] in stored(channel)


# ---------------------------------------------------------------- Instagram

@pytest.mark.django_db
def test_instagram_comments_beyond_the_first_page_and_long_threads_are_read_once(
        kit_a, django_capture_on_commit_callbacks):
    ig = kit_a.simulator.instagram
    channel = ig_channel(kit_a)
    thread = ig.add_comment("@acmetelecom quem mais está sem sinal?", author_username="primeira")
    replies = [ig.add_comment(f"eu também {n}", author_username=f"vizinho_{n}", parent_id=thread["id"])
               for n in range(60)]  # more than a page of 50 replies
    comments = [ig.add_comment(f"@acmetelecom sem sinal {n}", author_username=f"cliente_{n}") for n in range(119)]

    run = poll(kit_a, channel, django_capture_on_commit_callbacks)

    assert run.outcome == "ok"
    mentions = stored(channel)
    assert {c["id"] for c in [thread, *comments, *replies]} <= set(mentions)
    assert mentions[replies[0]["id"]].in_reply_to_external_id == thread["id"]
    assert run.stored == 180

    answer = ig.add_comment("@primeira aqui voltou agora", author_username="vizinho_1", parent_id=comments[-1]["id"])
    again = poll(kit_a, channel, django_capture_on_commit_callbacks)
    assert again.stored == 1 and stored(channel)[answer["id"]].in_reply_to_external_id == comments[-1]["id"]
    assert Mention.objects.filter(tenant=kit_a.tenant, channel=channel).count() == 181


# ---------------------------------------------------------------- the simulator pages like Graph

def test_the_simulator_lists_top_level_comments_oldest_first_unless_asked(simulator):
    graph = simulator.graph
    first = graph.add_comment("primeiro", "Ana")
    reply = graph.add_comment("resposta", "Rui", parent_id=first["id"])
    second = graph.add_comment("segundo", "Lia")
    post = graph.posts[0]["id"]

    default = graph.route("GET", f"/v21.0/{post}/comments", {}, params={})
    assert [c["id"] for c in default["data"]] == [first["id"], second["id"]]
    stream = graph.route("GET", f"/v21.0/{post}/comments", {},
                         params={"filter": "stream", "order": "reverse_chronological", "limit": "2"})
    assert [c["id"] for c in stream["data"]] == [second["id"], reply["id"]]
    assert stream["data"][1]["parent"] == {"id": first["id"]}
    after = stream["paging"]["cursors"]["after"]
    assert f"after={after}" in stream["paging"]["next"]
    rest = graph.route("GET", f"/v21.0/{post}/comments", {},
                       params={"filter": "stream", "order": "reverse_chronological", "limit": "2", "after": after})
    assert [c["id"] for c in rest["data"]] == [first["id"]] and "next" not in rest["paging"]
