"""The Instagram connector: comments on the account's media over the Graph API (shared GraphClient)."""

import json
from typing import Any

from channels_ingest.errors import MalformedPayload, PermanentError
from channels_ingest.facebook.client import MetaConnector
from channels_ingest.types import OutboundMessage, Page

from . import parse


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
        paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
        after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
        # Only the latest few media get comments that need care; page one deeper per poll, then wrap around.
        depth = int(cursor.get("depth") or 0)
        if after and depth < 2:
            return Page(items=items, bad_items=bad, cursor={"media_after": after, "depth": depth + 1}, more=True,
                        next_poll_in_seconds=self.client.slow_down_seconds)
        return Page(items=items, bad_items=bad, cursor={"media_after": None, "depth": 0},
                    next_poll_in_seconds=self.client.slow_down_seconds)

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
