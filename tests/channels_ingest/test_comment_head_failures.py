"""One post (or Instagram media, or thread) whose further comments Graph will not serve never stops the channel's
polling (SAC issue #3: "surviving everything the real APIs throw at them", "never a crash loop").

- Refused outright (HTTP 400, code 100 "Object ... does not exist": the post was deleted between the feed read and
  its comments read; or its paging cursor, whose comment was deleted): the rest of the poll is stored, the channel
  stays active, the poll run says which list and why, and the list is read again from its newest comment at the
  next poll (a deleted post is then given up). A refusal with a permission code (10) still stops the channel.
- Not served (a 5xx, "please retry"): the comments read before the failure are kept, and the rest of that list is
  read at the next polls from where it failed (a gap, the same as a burst larger than the caps).

Against the loopback simulator (channels_ingest/simulator/graph.py, instagram.py). The error bodies are Graph's
(code 100 as recorded in ../shared/fixtures/facebook/errors/graph_api_errors_observed.json; code 2, "An unexpected
error has occurred. Please retry your request later.", from the Graph API error reference).
"""

import time

import pytest
from django.utils import timezone, translation

from channels_ingest.facebook.comment_paging import GAP_GIVE_UP_AFTER
from channels_ingest.models import ChannelAccount
from channels_ingest.simulator.graph import GraphError
from channels_ingest.texts import stored_text

from ..conftest import login
from .test_comment_burst_resume import assert_stored_once, burst_on_a_quiet_post, polls_until
from .test_graph_polling_meta import ig_channel, poll, stored


def refused(monkeypatch, graph, refuse) -> list[str]:
    """GET /{id}/comments (or /replies) requests whose id `refuse(id, after)` picks answer Graph's error; returns the
    ids refused. `refuse` returns the GraphError to raise, or None to serve the request."""
    real, hits = graph.route, []

    def route(method, path, body, files=None, params=None):
        parts = [p for p in path.split("/") if p]
        if method == "GET" and len(parts) == 3 and parts[2] in ("comments", "replies"):
            error = refuse(parts[1], (params or {}).get("after", ""))
            if error is not None:
                hits.append(parts[1])
                raise error
        return real(method, path, body, files, params)

    monkeypatch.setattr(graph, "route", route)
    return hits


def gone(obj: str) -> GraphError:
    return GraphError(400, 100, f"Unsupported get request. Object with ID '{obj}' does not exist, cannot be loaded "
                                "due to missing permissions, or does not support this operation.", subcode=33)


def unexpected() -> GraphError:
    return GraphError(500, 2, "An unexpected error has occurred. Please retry your request later.")


@pytest.mark.django_db
def test_a_post_graph_refuses_to_list_comments_of_keeps_the_poll_and_is_given_up_once_gone(
        kit_a, django_capture_on_commit_callbacks, monkeypatch):
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel, old_post, known, burst = burst_on_a_quiet_post(kit_a, capture, 120)
    new_post = graph.add_post("Nova oferta de fibra")["id"]
    fresh = [graph.add_comment(f"Quero a oferta {n}", f"Cliente {n}", post_id=new_post)["id"] for n in range(3)]
    hits = refused(monkeypatch, graph, lambda obj, after: gone(obj) if obj == old_post else None)

    run = poll(kit_a, channel, capture)

    # The newest comments the feed carried of the refused post are kept; the other post is read whole.
    channel.refresh_from_db()
    assert hits == [old_post]
    assert run.outcome == "ok" and channel.status == ChannelAccount.Status.ACTIVE
    assert set(fresh) | set(burst[-50:]) <= set(stored(channel))
    assert old_post in run.error and "does not exist" in run.error and "read again from its newest" in run.error
    page = login(kit_a.admin).get(f"/t/{kit_a.tenant.slug}/channels/{channel.pk}/")
    assert page.status_code == 200 and old_post in page.content.decode()  # the health page's poll runs say it
    channel.refresh_from_db()
    assert channel.cursor["comment_resume"][old_post]["after"] == ""  # from its newest comment, next pass
    # Polling goes on: a new comment is read at the next poll; the post, gone from the feed, is tried once more from
    # its newest comment, refused again, and given up: not a gap tried for ever.
    with graph.lock:
        graph.posts = [p for p in graph.posts if p["id"] != old_post]
    later = graph.add_comment("Chegou a fatura em dobro", "Cliente novo", post_id=new_post)["id"]
    next_run = poll(kit_a, channel, capture)
    channel.refresh_from_db()
    assert next_run.outcome == "ok" and later in stored(channel) and hits == [old_post, old_post]
    assert old_post not in (channel.cursor.get("comment_resume") or {})
    assert_stored_once(channel, known | set(fresh) | set(burst[-50:]) | {new_post, later})


@pytest.mark.django_db
def test_a_newest_comments_page_graph_fails_to_serve_keeps_the_poll_and_is_read_at_the_next(
        kit_a, django_capture_on_commit_callbacks, monkeypatch):
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel, post, known, burst = burst_on_a_quiet_post(kit_a, capture, 400)
    asked: list[str] = []

    def second_page_once(obj, after):
        if after:
            asked.append(after)
            return unexpected() if len(asked) == 2 else None
        return None

    hits = refused(monkeypatch, graph, second_page_once)

    first = poll(kit_a, channel, capture)

    # The feed's 50 and the page before the failure are kept; the poll is not failed, the channel not stopped.
    assert hits and (first.outcome, first.stored) == ("ok", 100) and first.error == ""
    channel.refresh_from_db()
    gap = channel.cursor["comment_resume"][post]
    assert gap["failing_since"] and gap["failed_pass"] == channel.cursor["pass_at"]
    assert set(burst[-100:]) <= set(stored(channel))
    rest = polls_until(kit_a, channel, capture, set(burst))
    assert all(r.outcome == "ok" for r in rest) and sum(r.stored for r in rest) == 300
    assert_stored_once(channel, known | set(burst))


@pytest.mark.django_db
def test_instagram_media_and_threads_graph_refuses_are_skipped_and_polling_goes_on(
        kit_a, django_capture_on_commit_callbacks, monkeypatch):
    capture = django_capture_on_commit_callbacks
    ig = kit_a.simulator.instagram
    channel = ig_channel(kit_a)
    media = ig.add_media("Promoção de Natal")
    comments = [ig.add_comment(f"Comentário {n}", author_username=f"cliente{n}")["id"] for n in range(80)]
    thread = comments[-1]
    replies = [ig.add_comment(f"Resposta {n}", author_username=f"vizinho{n}", parent_id=thread)["id"]
               for n in range(60)]
    hits = refused(monkeypatch, kit_a.simulator.graph,
                   lambda obj, after: gone(obj) if obj in (media["id"], thread) else None)

    run = poll(kit_a, channel, capture)

    channel.refresh_from_db()
    assert set(hits) == {media["id"], thread}
    assert run.outcome == "ok" and channel.status == ChannelAccount.Status.ACTIVE
    assert media["id"] in run.error and thread in run.error
    assert comments[-1] in stored(channel)  # the newest comments the media page carried are kept
    assert replies[-1] in stored(channel)  # and the newest replies the comment page carried
    time.sleep(1.1)  # Graph times are to the second: the next comment is newer than every watermark
    later = ig.add_comment("Ainda sem resposta", author_username="cliente_novo")["id"]
    monkeypatch.undo()
    assert poll(kit_a, channel, capture).outcome == "ok" and later in stored(channel)


def test_the_skipped_lists_note_reads_in_portuguese_line_by_line():
    note = ("Facebook post 150_17: Graph refused to list its comments (Facebook error 100: Object does not exist); "
            "read again from its newest at the next poll\nInstagram comment 1789: Graph refused to list its replies "
            "(Instagram error 100: gone); read again from its newest at the next poll")
    with translation.override("pt-br"):
        shown = stored_text(note).split("\n")
    assert shown == [
        "Post 150_17 do Facebook: a Graph recusou listar seus comentários (Facebook error 100: Object does not "
        "exist); lidos de novo a partir do mais recente na próxima coleta",
        "Comentário 1789 do Instagram: a Graph recusou listar suas respostas (Instagram error 100: gone); lidas de "
        "novo a partir da mais recente na próxima coleta",
    ]


@pytest.mark.django_db
def test_a_paging_cursor_graph_refuses_on_a_posts_newest_comments_loses_none_of_them(
        kit_a, django_capture_on_commit_callbacks, monkeypatch):
    """Graph invalidates a paging cursor whose comment was deleted: the head walk's first request (the cursor the
    feed gave) is refused once. The post is read again from its newest comment at the next poll, down to the
    watermark: every comment of the burst is stored, once."""
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel, post, known, burst = burst_on_a_quiet_post(kit_a, capture, 120)
    bad_cursor = GraphError(400, 100, "(#100) The after cursor is not valid")
    hits = refused(monkeypatch, graph, lambda obj, after: bad_cursor if obj == post and after and not hits else None)

    first = poll(kit_a, channel, capture)

    assert hits == [post] and first.outcome == "ok" and "The after cursor is not valid" in first.error
    rest = polls_until(kit_a, channel, capture, set(burst))
    assert all(r.outcome == "ok" for r in rest)
    assert_stored_once(channel, known | set(burst))


@pytest.mark.django_db
def test_a_permission_graph_refuses_on_the_comments_still_stops_the_channel_with_the_reason(
        kit_a, django_capture_on_commit_callbacks, monkeypatch):
    """Code 10 (a permission the page's token lacks) is about the channel, not one post: the channel stops and
    says why, as before, rather than quietly reading no post's further comments."""
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel, _post, _known, _burst = burst_on_a_quiet_post(kit_a, capture, 120)
    refused(monkeypatch, graph, lambda obj, after: GraphError(403, 10, "(#10) Requires pages_read_engagement "
                                                                        "permission to manage the object"))

    run = poll(kit_a, channel, capture)

    channel.refresh_from_db()
    assert run.outcome == "failed" and channel.status == ChannelAccount.Status.ERROR
    assert "pages_read_engagement" in channel.status_detail


@pytest.mark.django_db
def test_a_posts_newest_comments_graph_keeps_failing_are_given_up_after_hours_not_reopened_for_ever(
        kit_a, django_capture_on_commit_callbacks, monkeypatch, caplog):
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel, post, _known, _burst = burst_on_a_quiet_post(kit_a, capture, 120)
    refused(monkeypatch, graph, lambda obj, after: unexpected() if after else None)
    assert poll(kit_a, channel, capture).outcome == "ok"
    channel.refresh_from_db()
    assert channel.cursor["comment_resume"][post]["failing_since"]
    cursor = dict(channel.cursor)
    cursor["comment_resume"][post]["failing_since"] = (timezone.now() - GAP_GIVE_UP_AFTER).isoformat()
    ChannelAccount.objects.filter(pk=channel.pk).update(cursor=cursor)

    assert poll(kit_a, channel, capture).outcome == "ok"

    channel.refresh_from_db()
    assert post not in channel.cursor["comment_resume"] and "left to webhooks" in caplog.text


def test_a_walk_refused_after_some_pages_counts_them_all_against_the_fetchs_budget():
    """The fetch's Graph budget (MAX_COMMENT_CALLS_PER_FETCH) is shared by the posts' head walks: one refused on its
    third page spent three requests, not one, and the posts after it get that much less."""
    from channels_ingest.errors import PermanentError
    from channels_ingest.facebook.comment_paging import head_read, walk

    asked: list[str] = []

    def get(path: str, params: dict) -> dict:  # Graph's answers, by the paging protocol: two pages, then code 100
        asked.append(params.get("after", ""))
        if len(asked) == 3:
            raise PermanentError("(#100) The after cursor is not valid", code=100)
        return {"data": [], "paging": {"cursors": {"after": f"c{len(asked)}"}, "next": "https://graph/next"}}

    notes: list[str] = []
    head = head_read(lambda: walk(get, "p1/comments", {}, "", pages=3, parse_page=lambda body: ([], [], []),
                                  done=lambda times: False, tolerant=True),
                     network="Facebook", what="post", key="p1", items="comments", notes=notes)

    assert asked == ["", "c1", "c2"] and head.calls == 3
    assert head.left == "" and "The after cursor is not valid" in notes[0]  # read again from its newest
