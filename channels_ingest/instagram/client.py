"""The Instagram connector: comments on the account's media over the Graph API (shared GraphClient)."""

import json
from datetime import datetime
from typing import Any

from channels_ingest.errors import MalformedPayload, PermanentError
from channels_ingest.facebook.client import MetaConnector, _comment_marks, _older_than, _read_time
from channels_ingest.facebook.parse import next_cursor
from channels_ingest.types import BadItem, MentionItem, OutboundMessage, Page

from . import parse

# What one fetch_page may cost (see facebook/client.py for the same reasoning): the media call, whose media each
# carry their first 50 comments, each with its first 50 replies; then further comment pages of busy media (at most
# MAX_COMMENT_PAGES per media, MAX_COMMENT_CALLS_PER_FETCH in all) and further reply pages of long threads (at most
# MAX_REPLY_PAGES per thread, MAX_REPLY_CALLS_PER_FETCH in all): 1 + 6 + 6 calls at worst, 1 for a quiet account.
# Meta does not document the order of a media's comments: when a page lists them newest first, paging stops at
# the comments the last poll saw (the media's watermark in the cursor); otherwise it goes on to the caps.
MAX_COMMENT_PAGES = 3
MAX_COMMENT_CALLS_PER_FETCH = 6
MAX_REPLY_PAGES = 2
MAX_REPLY_CALLS_PER_FETCH = 6


def _top_level_times(items: list[MentionItem], media_id: str) -> list[datetime]:
    return [i.posted_at for i in items if i.conversation_id == media_id and i.in_reply_to_external_id == media_id]


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
        body = self.client.get(f"{account_id}/media", params)
        items, bad = parse.parse_media_page(body, account_id=account_id, brand_username=self.channel.handle)
        threads = [(str(m.get("id")), str(m.get("permalink") or ""), comment_id, after)
                   for m in body.get("data") or [] if isinstance(m, dict)
                   for comment_id, after in parse.replies_left(m.get("comments"))]
        threads += self._more_comments(cursor, body, items, bad)
        self._more_replies(threads, items, bad)
        marks = _comment_marks(cursor, [i for i in items if i.in_reply_to_external_id == i.conversation_id])
        paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
        after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
        # Only the latest few media get comments that need care; page one deeper per poll, then wrap around.
        depth = int(cursor.get("depth") or 0)
        if after and depth < 2:
            return self._page(items=items, bad_items=bad, more=True,
                              cursor={"media_after": after, "depth": depth + 1, "comment_marks": marks})
        return self._page(items=items, bad_items=bad, cursor={"media_after": None, "depth": 0, "comment_marks": marks})

    def _more_comments(self, cursor: dict[str, Any], body: dict[str, Any], items: list[MentionItem],
                       bad: list[BadItem]) -> list[tuple[str, str, str, str]]:
        """Further pages of the comments of busy media (added to `items`, `bad`); returns the threads whose
        replies continue on another page, as (media id, permalink, comment id, replies `after`)."""
        account_id = self.channel.external_account_id
        marks = cursor.get("comment_marks") or {}
        threads: list[tuple[str, str, str, str]] = []
        budget = MAX_COMMENT_CALLS_PER_FETCH
        for media_id, permalink, after in parse.comments_left(body):
            mark = _read_time(marks.get(media_id))
            seen = _top_level_times(items, media_id)
            pages = 0
            while after and pages < MAX_COMMENT_PAGES and budget > 0 \
                    and not (seen and seen[0] >= seen[-1] and _older_than(seen, mark)):
                page = self.client.get(f"{media_id}/comments", {"fields": parse.THREAD_FIELDS, "after": after,
                                                                "limit": parse.PAGE_SIZE})
                pages, budget = pages + 1, budget - 1
                c_items, c_bad = parse.parse_comments(page, account_id=account_id, media_id=media_id,
                                                      media_permalink=permalink, brand_username=self.channel.handle)
                items += c_items
                bad += c_bad
                seen = _top_level_times(c_items, media_id)
                threads += [(media_id, permalink, c, a) for c, a in parse.replies_left(page)]
                after = next_cursor(page)
        return threads

    def _more_replies(self, threads: list[tuple[str, str, str, str]], items: list[MentionItem],
                      bad: list[BadItem]) -> None:
        """Further pages of long reply threads, added to `items` and `bad`."""
        budget = MAX_REPLY_CALLS_PER_FETCH
        for media_id, permalink, comment_id, after in threads:
            pages = 0
            while after and pages < MAX_REPLY_PAGES and budget > 0:
                page = self.client.get(f"{comment_id}/replies", {"fields": parse.COMMENT_FIELDS, "after": after,
                                                                 "limit": parse.PAGE_SIZE})
                pages, budget = pages + 1, budget - 1
                r_items, r_bad = parse.parse_comments(page, account_id=self.channel.external_account_id,
                                                      media_id=media_id, parent_id=comment_id,
                                                      media_permalink=permalink, brand_username=self.channel.handle)
                items += r_items
                bad += r_bad
                after = next_cursor(page)

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
