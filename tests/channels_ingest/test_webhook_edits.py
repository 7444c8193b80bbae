"""Edits arriving by webhook, and the links a webhook item carries.

FIXTURE NOTE: no Account Activity delivery with an edited post is recorded in ../shared/fixtures. The statuses below
are built from X's reference for enterprise payloads (https://developer.x.com/en/docs/x-api/enterprise/edit-tweets):
every post created since 2022-09-29 carries, at the root, "edit_history": {"initial_tweet_id", "edit_tweet_ids"},
"edit_controls": {"editable_until_ms", "edits_remaining"} and "editable"; an edit is a new post id whose
edit_history starts with the original's. The envelope is the Account Activity one (`for_user_id`,
`tweet_create_events` of v1.1 statuses: https://docs.x.com/x-api/enterprise-gnip-2.0/fundamentals/account-activity).
"""

import copy
import json

import pytest

from channels_ingest.models import Mention, MentionRevision, Platform

from .test_webhook_tenancy import X_A, fb_post, meta_channel, x_channel, x_post
from .test_webhooks import FEED_PAGE, shared_json

ORIGINAL_ID, EDIT_ID = "1860000000000000021", "1860000000000000022"

ORIGINAL = {
    "created_at": "Mon Nov 23 10:15:42 +0000 2026", "id": int(ORIGINAL_ID), "id_str": ORIGINAL_ID,
    "text": "@acme minha internet caiu", "in_reply_to_status_id_str": None, "lang": "pt",
    "timestamp_ms": "1795428942000",
    "user": {"id": 42, "id_str": "42", "name": "Cliente Silva", "screen_name": "cliente", "followers_count": 120},
    "edit_history": {"initial_tweet_id": ORIGINAL_ID, "edit_tweet_ids": [ORIGINAL_ID]},
    "edit_controls": {"editable_until_ms": 1795430742000, "edits_remaining": 5}, "editable": True,
}
EDITED = {
    **copy.deepcopy(ORIGINAL), "created_at": "Mon Nov 23 10:20:42 +0000 2026", "id": int(EDIT_ID),
    "id_str": EDIT_ID, "text": "@acme minha internet caiu de novo, já é a terceira vez",
    "timestamp_ms": "1795429242000",
    "edit_history": {"initial_tweet_id": ORIGINAL_ID, "edit_tweet_ids": [ORIGINAL_ID, EDIT_ID]},
    "edit_controls": {"editable_until_ms": 1795430742000, "edits_remaining": 4},
}


def activity(*statuses) -> bytes:
    return json.dumps({"for_user_id": X_A, "tweet_create_events": list(statuses)}).encode()


@pytest.mark.django_db
@pytest.mark.parametrize("order", [(ORIGINAL, EDITED), (EDITED, ORIGINAL)])
def test_an_edited_post_by_webhook_updates_the_stored_mention(kit_a, order, django_capture_on_commit_callbacks):
    channel = x_channel(kit_a.tenant, X_A, {"consumer_key": "k", "consumer_secret": "x-secret"})
    with django_capture_on_commit_callbacks(execute=True):
        for status in order:
            assert x_post(channel, activity(status), "x-secret").status_code == 200
    mention = Mention.objects.get(channel=channel)
    assert mention.external_id == ORIGINAL_ID
    assert mention.text == EDITED["text"] and mention.edited_at is not None
    if order[0] is ORIGINAL:
        assert list(MentionRevision.objects.filter(mention=mention).values_list("change", "text")) == [
            ("edit", ORIGINAL["text"])]


@pytest.mark.django_db
def test_a_comment_by_webhook_links_to_itself_on_facebook(kit_a, shared_dir, django_capture_on_commit_callbacks):
    change = shared_json(shared_dir, "feed_webhook_changes.json")["changes"]["commentAdd"]
    page, post = change["value"]["post_id"].split("_")
    channel = meta_channel(kit_a.tenant, Platform.FACEBOOK, FEED_PAGE)
    body = json.dumps({"object": "page", "entry": [{"id": FEED_PAGE, "time": 1, "changes": [change]}]}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert fb_post(channel, body).status_code == 200
    comment_local = change["value"]["comment_id"].split("_")[-1]
    assert Mention.objects.get(channel=channel).permalink == (
        f"https://www.facebook.com/{page}/posts/{post}/?comment_id={comment_local}")
