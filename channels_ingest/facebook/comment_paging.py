"""Reading a Graph comment list newest first down to what earlier polls read, within the polling caps, and
remembering where a walk the caps stopped was left (a gap), so the next polls read the rest: shared by the
Facebook and Instagram connectors.

A list is a post's (or an Instagram media's) comments, or an Instagram comment's replies. Its watermark ("mark")
is the newest item any poll has read on it (the cursor's `comment_marks`, and `reply_marks` for Instagram threads).
Each poll first walks every list from its newest item down to its mark (the head: customers writing now first),
then spends what the caps leave on the gaps of earlier polls. A gap is kept in the cursor as
`{list id: {"after": Graph's paging cursor, "mark": the watermark the walk was heading for}}` (the Instagram reply
threads' also name their media and its permalink); it is saved with the page it was found in, by ingest_batch, in
the transaction that stores that page's rows, so a poll that dies loses no gap and skips no comment.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from channels_ingest.errors import AuthError, MalformedPayload, PermanentError, TransientError
from channels_ingest.types import BadItem, MentionItem

from .parse import next_cursor

log = logging.getLogger(__name__)

# Watermarks kept in the cursor (the lists most recently commented on); a list that lost its watermark is walked
# down to the implicit mark below, and what was stored already is skipped by the unique key.
MAX_COMMENT_MARKS = 200
# Gaps kept in the cursor per kind (posts or media, Instagram threads); past that the oldest gaps (by their mark)
# are dropped with a warning, and what they held is left to the webhooks.
MAX_GAPS = 50
# A list with no watermark (a post or media new since the previous pass, one that had no comments, a thread that
# was short) was read whole, if at all, by the previous pass over the feed: walk it down to when that pass began,
# less this slack for the difference between our clock and Meta's.
IMPLICIT_MARK_SLACK = timedelta(minutes=10)
# A gap whose next page Graph keeps failing to serve (a 5xx, "please retry", an unreadable answer) is tried once a
# pass over the feed and dropped with a warning once it has failed for this long without a page served: a cursor
# Graph cannot serve must not fail the channel's polls, nor stay for ever, but a Graph incident of a few hours
# must not cost the rest of a burst either.
GAP_GIVE_UP_AFTER = timedelta(hours=6)


def read_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def older_than(times: list[datetime], mark: datetime | None) -> bool:
    """Whether a page (listed newest first) reached what the last poll saw: one of its times is older than the
    watermark. Strictly older: Graph times are to the second, and another item of the watermark's own second may
    be new (re-reading it costs nothing, the unique key skips it)."""
    return mark is not None and any(t < mark for t in times)


def reached(times: list[datetime], mark: datetime | None) -> bool:
    """Whether a page listed newest first reached what earlier polls read: an item older than the mark, or nothing
    newer than it (then what follows is of the mark's own second or older, read when the mark was set; without
    this, a list with more than a walk's pages of items of one second would never be seen as reached)."""
    return mark is not None and bool(times) and (older_than(times, mark) or all(t <= mark for t in times))


def newest_first(times: list[datetime]) -> bool:
    """Instagram does not document the order of its comment lists: marks and gaps are trusted only on pages
    listed newest first."""
    return not times or times[0] >= times[-1]


def marks_advance(old: Any, found: Iterable[tuple[str, datetime]]) -> dict[str, str]:
    """Watermarks (list id → its newest item read, ISO 8601) moved forward by what this page read, the
    MAX_COMMENT_MARKS most recent kept."""
    marks = {key: t for key, value in (old if isinstance(old, dict) else {}).items()
             if (t := read_time(value)) is not None}
    for key, posted_at in found:
        if key and (key not in marks or posted_at > marks[key]):
            marks[key] = posted_at
    newest = sorted(marks.items(), key=lambda kv: kv[1], reverse=True)[:MAX_COMMENT_MARKS]
    return {key: t.isoformat() for key, t in newest}


def implicit_mark(cursor: dict[str, Any]) -> datetime | None:
    """The mark of a list with no watermark (see IMPLICIT_MARK_SLACK); None on the first pass, which does not
    read the lists' history beyond the caps."""
    started = read_time(cursor.get("previous_pass_at"))
    return started - IMPLICIT_MARK_SLACK if started else None


def pass_begin(cursor: dict[str, Any], *, at: datetime) -> None:
    """A new pass over the feed (or the media) begins: the one before it is what implicit marks go by."""
    cursor["previous_pass_at"] = cursor.get("pass_at")
    cursor["pass_at"] = at.isoformat()


@dataclass(frozen=True)
class Gap:
    """The unread part of a list: continue from `after` ("" after Graph refused the cursor: from the newest
    again) until a page reaches `mark`. `media`, `permalink`: an Instagram thread's media, to file its replies;
    `failing_since`: when Graph began failing to serve its next page (None: it served the last one);
    `failed_pass`: the pass over the feed in which it last failed (it is not tried again in that pass)."""

    after: str
    mark: datetime
    media: str = ""
    permalink: str = ""
    failing_since: datetime | None = None
    failed_pass: str = ""

    def dump(self) -> dict[str, Any]:
        value: dict[str, Any] = {"after": self.after, "mark": self.mark.isoformat()}
        extra = {"media": self.media, "permalink": self.permalink, "failed_pass": self.failed_pass,
                 "failing_since": self.failing_since.isoformat() if self.failing_since else ""}
        return {**value, **{key: v for key, v in extra.items() if v}}


def gaps_load(value: Any) -> dict[str, Gap]:
    gaps = {}
    for key, entry in (value if isinstance(value, dict) else {}).items():
        mark = read_time(entry.get("mark")) if isinstance(entry, dict) else None
        if mark is not None and isinstance(entry.get("after"), str):
            gaps[str(key)] = Gap(after=entry["after"], mark=mark, media=str(entry.get("media") or ""),
                                 permalink=str(entry.get("permalink") or ""),
                                 failing_since=read_time(entry.get("failing_since")),
                                 failed_pass=str(entry.get("failed_pass") or ""))
    return gaps


def gaps_dump(gaps: dict[str, Gap], *, network: str, what: str) -> dict[str, dict[str, str]]:
    """The gaps as the cursor keeps them: at most MAX_GAPS, the newest; the others dropped with a warning."""
    ordered = sorted(gaps.items(), key=lambda kv: kv[1].mark, reverse=True)
    for key, gap in ordered[MAX_GAPS:]:
        log.warning("%s %s %s: more than %d unread bursts are remembered, this one is the oldest; its comments "
                    "written after %s that polling has not read yet are left to webhooks", network, what, key,
                    MAX_GAPS, gap.mark.isoformat())
    return {key: gap.dump() for key, gap in ordered[:MAX_GAPS]}


def gap_open(gaps: dict[str, Gap], key: str, head: "Walk", *, mark: datetime, pass_at: str, now: datetime,
             media: str = "", permalink: str = "") -> None:
    """A head walk stopped short of `mark` at `head.left`, by a cap or by a page Graph failed to serve (then the gap
    starts as failing, and is not tried again in this pass). A gap the list already had lies further down (older
    than this walk's mark): the two become one, from here down to the older mark, which re-reads what lies between
    them (skipped by the unique key) and loses nothing."""
    assert head.left is not None
    old = gaps.get(key)
    since = (old.failing_since if old else None) or now
    if head.failed and now - since >= GAP_GIVE_UP_AFTER:
        # The head of a list the feed keeps listing has failed at every poll since then (the gap itself is never
        # tried: it starts each pass as failed): given up like a gap, or it would be reopened for ever.
        log.warning("%s: Graph has failed to serve its newest comments since %s (%s); its comments beyond the feed's "
                    "first page are left to webhooks", key, since.isoformat(), head.failed)
        gaps.pop(key, None)
        return
    failing = {"failing_since": since, "failed_pass": pass_at} if head.failed else {}
    gaps[key] = Gap(after=head.left, mark=min(mark, old.mark) if old else mark, media=media, permalink=permalink,
                    **failing)


# Graph's code for a request on an object it will not serve that way: "Object ... does not exist" (deleted),
# "Unsupported get request", an invalid paging cursor. A refusal with another code (10, 200-299: a permission the
# page's token lacks) concerns the channel, not the list, and stops the channel as before.
GRAPH_OBJECT_REFUSED = 100


def head_read(read: Callable[..., "Walk"], *args: Any, network: str, what: str, key: str, items: str,
              notes: list[str]) -> "Walk":
    """A head walk, `read(*args)`, which must be tolerant: a page Graph fails to serve ends it there (the caller
    opens a gap from that page). A list Graph refuses outright (code 100: the post deleted since the feed listed
    it, or the paging cursor the feed gave refused because its comment was deleted) does not fail the poll: the
    walk ends as if its first page had failed, with a note for the poll run, so the caller opens a gap from the
    list's newest comment down to its watermark. The next pass reads it again from there; if Graph refuses that
    too, the post is gone and gaps_read gives it up. Nothing between the watermark and what the feed carried is
    lost meanwhile (the pages a walk read before a refusal are read again with the gap)."""
    found = read(*args)
    if not found.refused:
        return found
    log.warning("%s %s %s: Graph refused to list its %s (%s); read again from its newest at the next poll",
                network, what, key, items, found.refused)
    notes.append(f"{network} {what} {key}: Graph refused to list its {items} ({found.refused}); read again from its "
                 "newest at the next poll")
    # What the walk spent before the refusal, the refused request included, counts against the fetch's budget.
    return Walk(calls=found.calls, left="", failed=found.refused)


@dataclass
class Walk:
    items: list[MentionItem] = field(default_factory=list)
    bad: list[BadItem] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    times: list[datetime] = field(default_factory=list)  # the last page's
    # Where the caps (or a failed page) stopped it ("" : before its first page); None when it reached its mark or
    # the list's end.
    left: str | None = None
    failed: str = ""  # why Graph did not serve its next page, when a tolerant walk stopped for that
    refused: str = ""  # why Graph refused the list outright (GRAPH_OBJECT_REFUSED), when a tolerant walk met that


PageParser = Callable[[dict[str, Any]], tuple[list[MentionItem], list[BadItem], list[datetime]]]


def walk(get: Callable[[str, dict[str, Any]], dict[str, Any]], path: str, params: dict[str, Any], after: str, *,
         pages: int, parse_page: PageParser, done: Callable[[list[datetime]], bool], tolerant: bool = False) -> Walk:
    """Page `path` from `after` ("" : from its newest) until a page is `done` or the list ends, at most `pages`
    requests. `tolerant`: a page Graph fails to serve (a 5xx or an unreadable answer, not a rate limit) ends the
    walk there, with what the pages before it read, instead of failing the fetch; so does a list Graph refuses
    outright (code 100: `refused`, the requests made counted), which head_read and gaps_read read again from its
    newest."""
    found = Walk()
    while found.calls < pages:
        try:
            body = get(path, {**params, "after": after} if after else dict(params))
        except PermanentError as exc:
            if not tolerant or exc.code != GRAPH_OBJECT_REFUSED:
                raise
            found.calls += 1
            found.refused, found.left = str(exc), ""
            return found
        except (TransientError, MalformedPayload) as exc:
            if not tolerant or getattr(exc, "retry_after_seconds", None):
                raise  # a rate limit fails the fetch: the poll backs off as Meta asks
            found.calls += 1
            found.failed = str(exc)
            break
        found.calls += 1
        items, bad, found.times = parse_page(body)
        found.items += items
        found.bad += bad
        found.bodies.append(body)
        following = next_cursor(body)
        if following is None or done(found.times):
            return found
        after = following
    found.left = after
    return found


def gaps_read(gaps: dict[str, Gap], read: Callable[[str, Gap, int], Walk], *, budget: int, per_list: int,
              used: dict[str, int], network: str, what: str, pass_at: str,
              now: datetime) -> tuple[list[Walk], int]:
    """Spend what the heads left of a fetch's budget on the gaps, the newest first, each list within what it has
    left of `per_list` (`used`: the pages its head took); `read(list id, gap, pages)` walks one tolerantly. `gaps`
    is updated: moved on, closed (its mark reached), read again from the list's newest when Graph refuses its
    cursor (Graph invalidates a cursor whose comment was deleted), or kept where Graph failed to serve its next
    page (then no more gap is read in this fetch, and that one not again in this pass over the feed: `pass_at`).
    Returns the walks and what is left of the budget."""
    walks = []
    for key, gap in sorted(gaps.items(), key=lambda kv: kv[1].mark, reverse=True):
        pages = min(per_list - used.get(key, 0), budget)
        if pages <= 0 or (gap.failed_pass and gap.failed_pass == pass_at):
            continue
        try:
            found = read(key, gap, pages)
            refused = found.refused
        except AuthError:
            raise
        except PermanentError as exc:  # another code than walk takes (a permission on this list, say)
            found, refused = Walk(calls=pages), str(exc)  # how many it took before the refusal is unknown: all
        if refused:
            budget -= found.calls
            if gap.after:
                log.warning("%s %s %s: Graph refused the unread burst's paging cursor (%s); reading it again from "
                            "the newest comments", network, what, key, refused)
                gaps[key] = replace(gap, after="")
            else:
                log.warning("%s %s %s: its unread burst cannot be read (%s); left to webhooks", network, what, key,
                            refused)
                del gaps[key]
            continue
        budget -= found.calls
        used[key] = used.get(key, 0) + found.calls
        walks.append(found)
        served = found.calls > 1 or not found.failed  # a page came back before the failure, or no failure
        since = None if served else (gap.failing_since or now)
        if found.failed and since is not None and now - since >= GAP_GIVE_UP_AFTER:
            log.warning("%s %s %s: Graph has failed to serve its unread burst since %s (%s); left to webhooks",
                        network, what, key, since.isoformat(), found.failed)
            del gaps[key]
        elif found.failed:
            log.info("%s %s %s: Graph failed to serve a page of its unread burst (%s); read again in the next pass",
                     network, what, key, found.failed)
            gaps[key] = replace(gap, after=found.left or "", failing_since=since or now, failed_pass=pass_at)
            break  # Graph is struggling: the other gaps wait for the next poll
        elif found.left is None:
            del gaps[key]
        else:
            gaps[key] = replace(gap, after=found.left, failing_since=None, failed_pass="")
    return walks, budget
