"""The Instagram connector: comments on the account's media over the Graph API (shared GraphClient)."""

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from channels_ingest.errors import MalformedPayload, PermanentError
from channels_ingest.facebook.client import MetaConnector
from channels_ingest.facebook.comment_paging import (
    Walk,
    gap_open,
    gaps_dump,
    gaps_load,
    gaps_read,
    head_read,
    implicit_mark,
    marks_advance,
    newest_first,
    pass_begin,
    reached,
    read_time,
    walk,
)
from channels_ingest.types import BadItem, MentionItem, OutboundMessage, Page

from . import parse

log = logging.getLogger(__name__)

# What one fetch_page may cost (see facebook/client.py for the same reasoning): the media call, whose media each
# carry their first 50 comments, each with its first 50 replies; then further comment pages of busy media (at most
# MAX_COMMENT_PAGES per media, MAX_COMMENT_CALLS_PER_FETCH in all) and further reply pages of long threads (at most
# MAX_REPLY_PAGES per thread, MAX_REPLY_CALLS_PER_FETCH in all): 1 + 6 + 6 calls at worst, 1 for a quiet account.
# Each list is read newest first down to what the last poll saw (its watermark in the cursor), then what the caps
# left of earlier bursts (the cursor's gaps, see facebook/comment_paging.py). Meta does not document the order of
# a media's comments or of a comment's replies: watermarks and gaps are used only on pages listed newest first;
# otherwise paging goes on to the caps, as a first poll does.
MAX_COMMENT_PAGES = 3
MAX_COMMENT_CALLS_PER_FETCH = 6
MAX_REPLY_PAGES = 2
MAX_REPLY_CALLS_PER_FETCH = 6

# A long thread seen in this fetch: its comment id → (media id, media permalink, the replies' `after`).
Threads = dict[str, tuple[str, str, str]]


def _top_level_times(items: list[MentionItem], media_id: str) -> list[datetime]:
    return [i.posted_at for i in items if i.conversation_id == media_id and i.in_reply_to_external_id == media_id]


def _threads_of(body: dict[str, Any], media_id: str, permalink: str, threads: Threads) -> None:
    for comment_id, after in parse.replies_left(body):
        threads.setdefault(comment_id, (media_id, permalink, after))


class InstagramConnector(MetaConnector):
    network = "Instagram"
    replies_edge, reply_fields, text_key, time_key = "replies", "id,text,username,timestamp", "text", "timestamp"
    messaging_platform = "instagram"

    def _is_ours(self, item: dict[str, Any]) -> bool:
        # Instagram names a comment's author by username; a message's sender by id, like Facebook.
        if "username" in item:
            return str(item["username"]).lower() == self.channel.handle.lstrip("@").lower()
        return super()._is_ours(item)

    def fetch_page(self) -> Page:
        account_id = self.channel.external_account_id
        cursor = dict(self.channel.cursor or {})
        params: dict[str, Any] = {"fields": parse.MEDIA_FIELDS, "limit": 10}
        if cursor.get("media_after"):
            params["after"] = cursor["media_after"]
        else:
            pass_begin(cursor, at=timezone.now())
        body = self.client.get(f"{account_id}/media", params)
        items, bad = parse.parse_media_page(body, account_id=account_id, brand_username=self.channel.handle)
        threads: Threads = {}
        for media in body.get("data") or []:
            if isinstance(media, dict) and isinstance(media.get("comments"), dict):
                _threads_of(media["comments"], str(media.get("id")), str(media.get("permalink") or ""), threads)
        self._more_comments(cursor, body, items, bad, threads)
        self._more_replies(cursor, threads, items, bad)
        cursor["comment_marks"] = marks_advance(cursor.get("comment_marks"), (
            (i.conversation_id, i.posted_at) for i in items if i.in_reply_to_external_id == i.conversation_id))
        # Watermarks of the long threads only: a thread that fits the page its comment brings is read whole.
        cursor["reply_marks"] = marks_advance(cursor.get("reply_marks"), (
            (i.in_reply_to_external_id, i.posted_at) for i in items if i.in_reply_to_external_id in threads))
        paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
        after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
        # Only the latest few media get comments that need care; page one deeper per poll, then wrap around.
        depth = int(cursor.get("depth") or 0)
        if after and depth < 2:
            return self._page(items=items, bad_items=bad, more=True,
                              cursor={**cursor, "media_after": after, "depth": depth + 1})
        return self._page(items=items, bad_items=bad, cursor={**cursor, "media_after": None, "depth": 0})

    def _more_comments(self, cursor: dict[str, Any], body: dict[str, Any], items: list[MentionItem],
                       bad: list[BadItem], threads: Threads) -> None:
        """Further pages of the comments of busy media, newest first down to each media's watermark, then the
        unread parts of earlier bursts (the cursor's `comment_resume`, updated here); added to `items`, `bad`,
        and the long threads they hold to `threads`."""
        account_id = self.channel.external_account_id
        marks = cursor.get("comment_marks") or {}
        fallback = implicit_mark(cursor)
        gaps = gaps_load(cursor.get("comment_resume"))
        budget = MAX_COMMENT_CALLS_PER_FETCH
        used: dict[str, int] = {}
        pass_at, now = str(cursor.get("pass_at") or ""), timezone.now()

        def read(media_id: str, permalink: str, after: str, pages: int, mark: datetime | None,
                 tolerant: bool = False) -> Walk:
            def page(body: dict[str, Any]) -> tuple[list[MentionItem], list[BadItem], list[datetime]]:
                c_items, c_bad = parse.parse_comments(body, account_id=account_id, media_id=media_id,
                                                      media_permalink=permalink, brand_username=self.channel.handle)
                return c_items, c_bad, _top_level_times(c_items, media_id)

            found = walk(self.client.get, f"{media_id}/comments", {"fields": parse.THREAD_FIELDS,
                                                                   "limit": parse.PAGE_SIZE},
                         after, pages=pages, parse_page=page, done=lambda t: newest_first(t) and reached(t, mark),
                         tolerant=tolerant)
            items.extend(found.items)
            bad.extend(found.bad)
            for page_body in found.bodies:
                _threads_of(page_body, media_id, permalink, threads)
            return found

        for media_id, permalink, after in parse.comments_left(body):
            mark = read_time(marks.get(media_id)) or fallback
            seen = _top_level_times(items, media_id)
            if newest_first(seen) and reached(seen, mark):
                continue
            head = head_read(read, media_id, permalink, after, min(MAX_COMMENT_PAGES, budget), mark, True,
                             network="Instagram", what="media", key=media_id, items="comments", notes=self.notes)
            budget -= head.calls
            used[media_id] = head.calls
            if head.left is not None and mark is not None and newest_first(head.times or seen):
                gap_open(gaps, media_id, head, mark=mark, pass_at=pass_at, now=now, permalink=permalink)
                log.info("Instagram media %s got more comments since the last poll than one poll reads; the rest "
                         "are read at the next polls", media_id)
        gaps_read(gaps, lambda media_id, gap, pages: read(media_id, gap.permalink, gap.after, pages, gap.mark, True),
                  budget=budget, per_list=MAX_COMMENT_PAGES, used=used, network="Instagram", what="media",
                  pass_at=pass_at, now=now)
        cursor["comment_resume"] = gaps_dump(gaps, network="Instagram", what="media")

    def _more_replies(self, cursor: dict[str, Any], threads: Threads, items: list[MentionItem],
                      bad: list[BadItem]) -> None:
        """Further pages of long reply threads, newest first down to each thread's watermark, then the unread
        parts of earlier bursts (the cursor's `reply_resume`, updated here); added to `items` and `bad`."""
        marks = cursor.get("reply_marks") or {}
        fallback = implicit_mark(cursor)
        gaps = gaps_load(cursor.get("reply_resume"))
        budget = MAX_REPLY_CALLS_PER_FETCH
        used: dict[str, int] = {}
        pass_at, now = str(cursor.get("pass_at") or ""), timezone.now()

        def read(comment_id: str, media_id: str, permalink: str, after: str, pages: int, mark: datetime | None,
                 tolerant: bool = False) -> Walk:
            def page(body: dict[str, Any]) -> tuple[list[MentionItem], list[BadItem], list[datetime]]:
                r_items, r_bad = parse.parse_comments(body, account_id=self.channel.external_account_id,
                                                      media_id=media_id, parent_id=comment_id,
                                                      media_permalink=permalink, brand_username=self.channel.handle)
                return r_items, r_bad, [i.posted_at for i in r_items]

            found = walk(self.client.get, f"{comment_id}/replies", {"fields": parse.COMMENT_FIELDS,
                                                                    "limit": parse.PAGE_SIZE},
                         after, pages=pages, parse_page=page, done=lambda t: newest_first(t) and reached(t, mark),
                         tolerant=tolerant)
            items.extend(found.items)
            bad.extend(found.bad)
            return found

        # A long thread with no watermark may never have been read (its comment came from a page of an unread
        # burst, or it was short until now): read it down to its comment's own time, which no reply is older than,
        # rather than to the previous pass (the implicit mark), which would skip the replies written before that.
        # (A second earlier: Graph times are to the second, and a page all of the mark's own second counts as read.)
        parents = {i.external_id: i.posted_at - timedelta(seconds=1) for i in items if i.external_id in threads}
        for comment_id, (media_id, permalink, after) in list(threads.items()):
            mark = read_time(marks.get(comment_id)) or parents.get(comment_id) or fallback
            seen = [i.posted_at for i in items if i.in_reply_to_external_id == comment_id]
            if newest_first(seen) and reached(seen, mark):
                continue
            head = head_read(read, comment_id, media_id, permalink, after, min(MAX_REPLY_PAGES, budget), mark,
                             True,
                             network="Instagram", what="comment", key=comment_id, items="replies", notes=self.notes)
            budget -= head.calls
            used[comment_id] = head.calls
            if head.left is not None and mark is not None and newest_first(head.times or seen):
                gap_open(gaps, comment_id, head, mark=mark, pass_at=pass_at, now=now, media=media_id,
                         permalink=permalink)
                log.info("Instagram comment %s got more replies since the last poll than one poll reads; the rest "
                         "are read at the next polls", comment_id)
        gaps_read(gaps, lambda comment_id, gap, pages: read(comment_id, gap.media, gap.permalink, gap.after, pages,
                                                            gap.mark, True),
                  budget=budget, per_list=MAX_REPLY_PAGES, used=used, network="Instagram", what="comment",
                  pass_at=pass_at, now=now)
        cursor["reply_resume"] = gaps_dump(gaps, network="Instagram", what="comment")

    def send(self, message: OutboundMessage) -> str:
        target = message.in_reply_to_external_id
        if message.visibility == "private":
            return self._private_reply(target, message.text)
        if not target:
            raise PermanentError("No comment to reply to.")
        body = self.client.post(f"{target}/replies", {"message": message.text})
        if not body.get("id"):
            raise MalformedPayload("Instagram answered a reply without its id", json.dumps(body))
        return self._record(str(body["id"]), "public_reply", target)
