"""A burst of comments larger than what one poll reads (the polling caps) is read whole over the next polls, with
no webhook at all: the newest comments at once, the rest of the burst at the next polls, every comment stored
exactly once, and the health page's poll runs counting what each poll stored (SAC issue #3).

Against the loopback simulator (channels_ingest/simulator/graph.py, instagram.py), which pages like the Graph API
reference (https://developers.facebook.com/docs/graph-api/results/: `limit`, `paging.cursors.after`, `paging.next`;
the comments edge's `filter` and `order`, https://developers.facebook.com/docs/graph-api/reference/object/comments).
"""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_ingest import services
from channels_ingest.errors import TransientError
from channels_ingest.facebook.comment_paging import GAP_GIVE_UP_AFTER, Gap, gaps_read, walk
from channels_ingest.models import ChannelAccount, Mention, PollRun
from channels_ingest.simulator.graph import GraphError

from ..conftest import login
from .test_graph_polling_meta import fb_channel, graph_gets, ig_channel, poll, stored


def polls_until(kit, channel, capture, wanted: set[str], most: int = 6) -> list[PollRun]:
    """Poll until every id of `wanted` is stored (at most `most` polls); the runs, oldest first."""
    runs = []
    while not wanted <= set(stored(channel)):
        assert len(runs) < most, f"{len(wanted - set(stored(channel)))} comments still missing after {most} polls"
        runs.append(poll(kit, channel, capture))
    return runs


def assert_stored_once(channel, expected: set[str]) -> None:
    ids = list(Mention.objects.filter(tenant=channel.tenant, channel=channel).values_list("external_id", flat=True))
    assert len(ids) == len(set(ids)) and set(ids) == expected


def health_runs(kit, channel) -> list[dict[str, str]]:
    """The poll runs as the channel's health page lists them (newest first): fetched, new, duplicates, outcome."""
    page = login(kit.admin).get(f"/t/{kit.tenant.slug}/channels/{channel.pk}/")
    assert page.status_code == 200
    table = re.search(r'id="poll-runs".*?<tbody>(.*?)</tbody>', page.content.decode(), re.S).group(1)
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows.append({"outcome": cells[2], "fetched": int(cells[3]), "new": int(cells[4]),
                     "duplicates": int(cells[5])})
    return rows


def fb_with_a_quiet_history(kit, capture):
    """A page whose post has 30 comments that a first poll read (its watermark), an hour ago."""
    graph = kit.simulator.graph
    channel = fb_channel(kit)
    start = time.time() - 3600
    earlier = [graph.add_comment(f"Comentário {n}", f"Cliente {n}", at=start + n)["id"] for n in range(30)]
    assert poll(kit, channel, capture).stored == 1 + 30
    return channel, start, {graph.posts[0]["id"], *earlier}


def burst_on_a_quiet_post(kit, capture, count: int = 400) -> tuple[ChannelAccount, str, set[str], list[str]]:
    """fb_with_a_quiet_history, then `count` comments on its post ten minutes later, more than one poll reads: the
    channel, the post, what the first poll stored, and the burst's comment ids, oldest first."""
    channel, start, known = fb_with_a_quiet_history(kit, capture)
    graph = kit.simulator.graph
    burst = [graph.add_comment(f"Caiu de novo {n}", f"Vizinho {n}", at=start + 600 + n)["id"] for n in range(count)]
    return channel, graph.posts[0]["id"], known, burst


# ---------------------------------------------------------------- Facebook

@pytest.mark.django_db
def test_a_burst_larger_than_the_caps_is_read_whole_over_the_next_polls_newest_first(
        kit_a, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    # 400 comments between two polls, no webhook: more than the feed's 50 and the 3 further pages one poll reads.
    channel, _post, known, burst = burst_on_a_quiet_post(kit_a, capture)
    before = len(kit_a.simulator.requests)

    first = poll(kit_a, channel, capture)

    # The newest 200 at once (customers writing now first), within the caps: 3 further comment pages.
    assert (first.outcome, first.stored) == ("ok", 200)
    assert set(burst[-200:]) <= set(stored(channel)) and not set(burst[:-200]) & set(stored(channel))
    assert len(graph_gets(kit_a, "comments", since=before)) == 3
    channel.refresh_from_db()
    assert list(channel.cursor["comment_resume"]) == [graph.posts[0]["id"]]
    health = login(kit_a.admin).get(f"/t/{kit_a.tenant.slug}/channels/{channel.pk}/").content.decode()
    assert "Catching up: a burst of comments on 1 post or thread is still being read" in health

    rest = polls_until(kit_a, channel, capture, set(burst))

    # The rest of the burst at the next polls, newest first, 3 pages a poll at most; then the gap is closed.
    assert [r.stored for r in rest] == [150, 50]
    assert set(burst[50:200]) <= {m.external_id for m in Mention.objects.filter(tenant=kit_a.tenant,
                                                                                 ingest_run=rest[0])}
    channel.refresh_from_db()
    assert channel.cursor["comment_resume"] == {}
    health = login(kit_a.admin).get(f"/t/{kit_a.tenant.slug}/channels/{channel.pk}/").content.decode()
    assert "Catching up" not in health
    before = len(kit_a.simulator.requests)
    assert poll(kit_a, channel, capture).stored == 0
    assert graph_gets(kit_a, "comments", since=before) == []  # nothing left to page
    assert_stored_once(channel, known | set(burst))
    # The health page counts each comment once as new, and what a poll read again as a duplicate.
    runs = health_runs(kit_a, channel)
    assert [r["new"] for r in runs] == [0, 50, 150, 200, 31]
    assert sum(r["new"] for r in runs) == len(known) + len(burst)
    assert all(r["fetched"] == r["new"] + r["duplicates"] and r["outcome"] == "OK" for r in runs)


@pytest.mark.django_db
def test_two_busy_posts_at_once_one_of_them_new_are_both_read_whole(kit_a, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel, start, known = fb_with_a_quiet_history(kit_a, capture)
    old_post = graph.posts[0]["id"]
    # Between two polls: a new post gets 300 comments (it had no watermark) and the old one 300 more.
    new_post = graph.add_post("Live agora: tire suas dúvidas sobre a fibra!")["id"]
    now = time.time()
    on_new = [graph.add_comment(f"Pergunta {n}", f"Fã {n}", post_id=new_post, at=now - 300 + n)["id"]
              for n in range(300)]
    on_old = [graph.add_comment(f"Sem sinal {n}", f"Vizinho {n}", post_id=old_post, at=start + 600 + n)["id"]
              for n in range(300)]

    first = poll(kit_a, channel, capture)

    mentions = set(stored(channel))
    assert first.stored == 1 + 200 + 200  # the new post itself, and each post's newest 200
    assert set(on_new[-200:]) <= mentions and set(on_old[-200:]) <= mentions
    rest = polls_until(kit_a, channel, capture, set(on_new) | set(on_old))
    assert len(rest) == 1 and rest[0].stored == 200
    channel.refresh_from_db()
    assert channel.cursor["comment_resume"] == {}
    assert_stored_once(channel, known | {new_post, *on_new, *on_old})


@pytest.mark.django_db
def test_a_poll_that_dies_after_writing_its_rows_loses_and_duplicates_nothing(
        kit_a, django_capture_on_commit_callbacks, monkeypatch):
    capture = django_capture_on_commit_callbacks
    channel, _post, known, burst = burst_on_a_quiet_post(kit_a, capture)
    assert poll(kit_a, channel, capture).stored == 200
    channel.refresh_from_db()
    gap = channel.cursor["comment_resume"]

    real = services.rows_insert

    def dies_after_writing(model, *args, **kwargs):
        written = real(model, *args, **kwargs)
        if model is Mention:
            raise RuntimeError("worker lost mid-batch")  # the page's rows written, its cursor not yet
        return written

    monkeypatch.setattr(services, "rows_insert", dies_after_writing)
    with pytest.raises(RuntimeError):
        poll(kit_a, channel, capture)
    monkeypatch.setattr(services, "rows_insert", real)

    # The rows and the cursor went back together: the gap is where it was, nothing of that page is kept.
    channel.refresh_from_db()
    assert channel.cursor["comment_resume"] == gap
    assert Mention.objects.filter(tenant=kit_a.tenant, channel=channel).count() == len(known) + 200
    failed = PollRun.objects.get(tenant=kit_a.tenant, channel=channel, outcome="failed")
    assert (failed.stored, failed.fetched) == (0, 0)

    rest = polls_until(kit_a, channel, capture, set(burst))
    assert sum(r.stored for r in rest) == 200
    assert_stored_once(channel, known | set(burst))


def failing_comment_pages(monkeypatch, graph, which) -> list[str]:
    """Graph's "an unexpected error has occurred, retry later" (code 2, a 500) for the GET /{post}/comments
    requests with an `after` that `which(n)` picks (n counts them from 1); returns the paths it failed."""
    real, asked, failed = graph.route, [], []

    def flaky(method, path, body, files=None, params=None):
        if method == "GET" and path.endswith("/comments") and (params or {}).get("after"):
            asked.append(path)
            if which(len(asked)):
                failed.append(path)
                raise GraphError(500, 2, "An unexpected error has occurred. Please retry your request later.")
        return real(method, path, body, files, params)

    monkeypatch.setattr(graph, "route", flaky)
    return failed


# A newest-comments page Graph fails to serve: tests/channels_ingest/test_comment_head_failures.py.


@pytest.mark.django_db
def test_a_burst_page_that_graph_fails_to_serve_is_read_at_the_next_poll_and_the_poll_keeps_the_rest(
        kit_a, django_capture_on_commit_callbacks, monkeypatch):
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel, _post, known, burst = burst_on_a_quiet_post(kit_a, capture)
    assert poll(kit_a, channel, capture).stored == 200
    failed_pages = failing_comment_pages(monkeypatch, graph, lambda n: n == 2)  # the gap's second page, once

    run = poll(kit_a, channel, capture)

    # The newest comments and the gap's first page are kept; the gap goes on from the page Graph did not serve.
    assert failed_pages and (run.outcome, run.stored) == ("ok", 50)
    channel.refresh_from_db()
    gap = channel.cursor["comment_resume"][graph.posts[0]["id"]]
    assert gap["failing_since"] and gap["failed_pass"] == channel.cursor["pass_at"]
    rest = polls_until(kit_a, channel, capture, set(burst))
    assert [r.stored for r in rest] == [150] and all(r.outcome == "ok" for r in rest)
    assert poll(kit_a, channel, capture).stored == 0  # the page that reaches the comments read before: done
    channel.refresh_from_db()
    assert channel.cursor["comment_resume"] == {}
    assert_stored_once(channel, known | set(burst))
    assert all(r["fetched"] == r["new"] + r["duplicates"] for r in health_runs(kit_a, channel))


@pytest.mark.django_db
def test_a_burst_graph_never_serves_is_given_up_after_hours_and_polling_goes_on(
        kit_a, django_capture_on_commit_callbacks, monkeypatch, caplog):
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel, post, known, _burst = burst_on_a_quiet_post(kit_a, capture)
    assert poll(kit_a, channel, capture).stored == 200
    failing_comment_pages(monkeypatch, graph, lambda n: True)

    # A Graph incident: the gap is tried once a pass, every poll stays OK, and it is kept while it lasts ...
    runs = [poll(kit_a, channel, capture) for _ in range(8)]
    assert all(r.outcome == "ok" and r.stored == 0 for r in runs)
    channel.refresh_from_db()
    assert post in channel.cursor["comment_resume"] and "left to webhooks" not in caplog.text
    # ... until Graph has failed it for GAP_GIVE_UP_AFTER: then it is given up, and polling goes on.
    cursor = dict(channel.cursor)
    cursor["comment_resume"][post]["failing_since"] = (timezone.now() - GAP_GIVE_UP_AFTER).isoformat()
    ChannelAccount.objects.filter(pk=channel.pk).update(cursor=cursor)
    assert poll(kit_a, channel, capture).outcome == "ok"
    channel.refresh_from_db()
    assert channel.cursor["comment_resume"] == {}
    assert "left to webhooks" in caplog.text
    fresh = graph.add_comment("Alguém aí? Continuo sem sinal", "Cliente novo")
    assert poll(kit_a, channel, capture).stored == 1 and fresh["id"] in stored(channel)


@pytest.mark.django_db
def test_a_burst_page_graph_answers_unreadably_does_not_stop_the_channels_polling(
        kit_a, django_capture_on_commit_callbacks, monkeypatch):
    """Graph answers the gap's page with something that is not a list (`false`, as it does for some objects it will
    not show): the gap waits like one Graph failed to serve, and the rest of the channel is polled as usual."""
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel, _post, known, _burst = burst_on_a_quiet_post(kit_a, capture)
    assert poll(kit_a, channel, capture).stored == 200
    real = graph.route

    def odd(method, path, body, files=None, params=None):
        if method == "GET" and path.endswith("/comments") and (params or {}).get("after"):
            return False
        return real(method, path, body, files, params)

    monkeypatch.setattr(graph, "route", odd)
    fresh = graph.add_comment("Alguém aí? Continuo sem sinal", "Cliente novo")
    runs = [poll(kit_a, channel, capture) for _ in range(3)]
    assert all(r.outcome == "ok" for r in runs), [r.error for r in runs]
    assert fresh["id"] in stored(channel)
    channel.refresh_from_db()
    assert graph.posts[0]["id"] in channel.cursor["comment_resume"]  # kept for when Graph serves it again


def test_a_gap_graph_failed_is_not_tried_again_in_the_same_pass():
    """A poll can run several fetches of one pass over the feed (a page with many posts): a failing gap costs one
    call a pass, not one a fetch, and its give-up clock does not run faster for it."""
    asked = []

    def _server_error(path, params):
        raise TransientError("Facebook server error 500")

    def read(key, gap, pages):
        asked.append(key)
        return walk(_server_error,
                    "p/comments", {}, gap.after, pages=pages, parse_page=lambda b: ([], [], []), done=lambda t: True,
                    tolerant=True)

    now = timezone.now()
    gaps = {"p": Gap(after="a", mark=now - timedelta(hours=1))}
    for _fetch in range(3):
        gaps_read(gaps, read, budget=10, per_list=3, used={}, network="Facebook", what="post", pass_at="pass-1",
                  now=now)
    assert asked == ["p"] and gaps["p"].failed_pass == "pass-1" and gaps["p"].failing_since == now
    gaps_read(gaps, read, budget=10, per_list=3, used={}, network="Facebook", what="post", pass_at="pass-2",
              now=now + timedelta(minutes=1))
    assert asked == ["p", "p"] and gaps["p"].failing_since == now  # the same run of failures


@pytest.mark.django_db
def test_a_burst_cursor_that_graph_refuses_is_read_again_from_the_newest(kit_a, django_capture_on_commit_callbacks):
    # Graph invalidates a cursor whose comment was deleted (developers.facebook.com/docs/graph-api/results/).
    capture = django_capture_on_commit_callbacks
    channel, post_id, known, burst = burst_on_a_quiet_post(kit_a, capture)
    assert poll(kit_a, channel, capture).stored == 200
    channel.refresh_from_db()
    cursor = {**channel.cursor, "comment_resume": {
        post_id: {**channel.cursor["comment_resume"][post_id], "after": "not-a-cursor!"}}}
    ChannelAccount.objects.filter(tenant=kit_a.tenant, pk=channel.pk).update(cursor=cursor)

    runs = polls_until(kit_a, channel, capture, set(burst), most=8)

    assert all(r.outcome == "ok" for r in runs) and sum(r.stored for r in runs) == 200
    channel.refresh_from_db()
    assert channel.cursor["comment_resume"] == {}
    assert_stored_once(channel, known | set(burst))


# ---------------------------------------------------------------- Instagram

def ig_with_a_quiet_history(kit, capture):
    ig = kit.simulator.instagram
    channel = ig_channel(kit)
    thread = ig.add_comment("@acmetelecom quem mais está sem sinal?", author_username="primeira")
    earlier = [ig.add_comment(f"eu também {n}", author_username=f"vizinho_{n}", parent_id=thread["id"])["id"]
               for n in range(10)]
    earlier += [ig.add_comment(f"@acmetelecom sem sinal {n}", author_username=f"cliente_{n}")["id"]
                for n in range(29)]
    assert poll(kit, channel, capture).stored == 1 + 10 + 29
    # Instagram times are to the second: what comes next is a second later than what the first poll read.
    time.sleep(1.05)
    return channel, thread["id"], {thread["id"], *earlier}


@pytest.mark.django_db
def test_an_instagram_burst_on_a_media_is_read_whole_over_the_next_polls(kit_a, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    ig = kit_a.simulator.instagram
    channel, _, known = ig_with_a_quiet_history(kit_a, capture)
    burst = [ig.add_comment(f"@acmetelecom caiu de novo {n}", author_username=f"fa_{n}")["id"] for n in range(400)]
    before = len(kit_a.simulator.requests)

    first = poll(kit_a, channel, capture)

    assert (first.outcome, first.stored) == ("ok", 200)  # the media's first 50, then 3 pages: the newest first
    assert set(burst[-200:]) <= set(stored(channel))
    assert len(graph_gets(kit_a, "comments", since=before)) == 3
    rest = polls_until(kit_a, channel, capture, set(burst))
    assert [r.stored for r in rest] == [150, 50]
    channel.refresh_from_db()
    assert channel.cursor["comment_resume"] == {}
    assert_stored_once(channel, known | set(burst))
    runs = health_runs(kit_a, channel)
    assert sum(r["new"] for r in runs) == len(known) + len(burst)
    assert all(r["fetched"] == r["new"] + r["duplicates"] for r in runs)


@pytest.mark.django_db
def test_an_instagram_burst_of_replies_in_one_thread_is_read_whole_over_the_next_polls(
        kit_a, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    ig = kit_a.simulator.instagram
    channel, thread, known = ig_with_a_quiet_history(kit_a, capture)
    # The thread was short when last read (no watermark of its own): 300 replies arrive before the next poll.
    burst = [ig.add_comment(f"aqui também {n}", author_username=f"vizinha_{n}", parent_id=thread)["id"]
             for n in range(300)]
    before = len(kit_a.simulator.requests)

    first = poll(kit_a, channel, capture)

    assert (first.outcome, first.stored) == ("ok", 150)  # the 50 the comment brings, then 2 pages of replies
    assert set(burst[-150:]) <= set(stored(channel))
    assert len(graph_gets(kit_a, "replies", since=before)) == 2
    rest = polls_until(kit_a, channel, capture, set(burst))
    assert [r.stored for r in rest] == [100, 50]
    channel.refresh_from_db()
    assert channel.cursor["reply_resume"] == {}
    assert_stored_once(channel, known | set(burst))
    replies = Mention.objects.filter(tenant=kit_a.tenant, channel=channel, external_id__in=burst)
    assert {r.in_reply_to_external_id for r in replies} == {thread}


@pytest.mark.django_db
def test_a_long_thread_found_in_an_unread_part_of_a_burst_is_read_whole(
        kit_a, django_capture_on_commit_callbacks, monkeypatch):
    """A thread whose comment lies in the older part of a media burst has no reply watermark; nothing of it was read
    before, so all its replies are read, even when the polls come long after the burst (here 11 to 36 minutes)."""
    from channels_ingest.instagram import client as ig_client

    capture = django_capture_on_commit_callbacks
    ig = kit_a.simulator.instagram
    channel = ig_channel(kit_a)
    ig.add_comment("@acmetelecom primeira", author_username="primeira")
    assert poll(kit_a, channel, capture).stored == 1
    time.sleep(1.05)  # the burst in a later second than what the first poll read
    burst, replies = [], []
    for n in range(400):
        burst.append(ig.add_comment(f"@acmetelecom caiu {n}", author_username=f"fa_{n}")["id"])
        if n == 100:  # a thread in the older half of the burst: 120 people answer it
            replies = [ig.add_comment(f"eu também {k}", author_username=f"viz_{k}", parent_id=burst[-1])["id"]
                       for k in range(120)]
    real = ig_client.pass_begin
    shifts = iter(timedelta(minutes=m) for m in range(11, 60, 5))
    monkeypatch.setattr(ig_client, "pass_begin", lambda cursor, at: real(cursor, at=at + next(shifts)))

    for _ in range(7):
        assert poll(kit_a, channel, capture).outcome == "ok"
    assert set(burst) | set(replies) <= set(stored(channel))
    assert_stored_once(channel, set(stored(channel)))


@pytest.mark.django_db
def test_a_burst_on_another_tenants_page_is_read_into_that_tenant_only(
        kit_a, kit_b, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    graph = kit_a.simulator.graph
    channel, start, known = fb_with_a_quiet_history(kit_a, capture)
    other = fb_channel(kit_b)  # tenant B connected the same simulated page, and polled it before the burst
    assert poll(kit_b, other, capture).stored == len(known)
    burst = [graph.add_comment(f"Caiu de novo {n}", f"Vizinho {n}", at=start + 600 + n)["id"] for n in range(300)]

    polls_until(kit_a, channel, capture, set(burst))

    # B's cursor (its gap) is its own: A's polls read nothing into B, and B's polls read the burst whole too.
    assert Mention.objects.filter(tenant=kit_b.tenant).count() == len(known)
    other.refresh_from_db()
    assert other.cursor.get("comment_resume", {}) == {}
    polls_until(kit_b, other, capture, set(burst))
    assert_stored_once(other, known | set(burst))
