"""Facebook Page and Instagram connectors: recorded Graph payloads (../shared/fixtures/facebook) parsed into
mentions, polled through a loopback Graph server, and the outbound rules (the one private reply)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from channels_ingest.connectors import connector_for
from channels_ingest.errors import PermanentError
from channels_ingest.facebook import parse as fb
from channels_ingest.instagram import parse as ig
from channels_ingest.models import ChannelAccount, Mention, Platform, PollRun, SentMessage
from channels_ingest.services import channel_create, channel_poll, ingest_batch
from channels_ingest.types import MentionItem, OutboundMessage, Page, ProfileItem

from .graph_fake import GraphFake

PAGE_ID = "19292868552"
IG_ID = "17841406338772941"


def fb_fixture(shared_dir, path: str):
    return json.loads((shared_dir / "fixtures/facebook/python_facebook" / path).read_text())


@pytest.fixture
def graph():
    server = GraphFake()
    yield server
    server.stop()


def meta_channel(tenant, graph, platform=Platform.FACEBOOK, account_id=PAGE_ID):
    return channel_create(tenant=tenant, platform=platform, name=f"{platform} page", external_account_id=account_id,
                          api_base_url=graph.base_url,
                          credentials={"page_access_token": "EAAB-page-token", "app_secret": "FAKE_SECRET",
                                       "verify_token": "verify-me"})


def recorded_feed(shared_dir) -> dict:
    """A feed page as GET /{page}/feed?fields=…comments{…} returns it, assembled from recorded posts and comments."""
    posts = list(fb_fixture(shared_dir, "facebook/apidata/posts/multi_posts_data_fields.json").values())
    comments = list(fb_fixture(shared_dir, "facebook/apidata/comments/comments_info.json").values())
    first = dict(posts[0], comments={"data": comments})
    return {"data": [first, *posts[1:]]}


# ---------------------------------------------------------------- parsing the recordings

def test_recorded_feed_with_comments_parses_to_posts_and_comments(shared_dir):
    items, bad, more = fb.parse_feed(recorded_feed(shared_dir), page_id=PAGE_ID)
    assert not bad and not more
    posts = [i for i in items if i.kind == "post"]
    comments = [i for i in items if i.kind == "comment"]
    assert posts and comments
    first_post = posts[0].external_id
    assert all(c.conversation_id == first_post and c.in_reply_to_external_id == first_post for c in comments)
    assert comments[0].permalink.startswith("https://www.facebook.com/19292868552/posts/")
    assert comments[0].text == "This is really nice"
    assert comments[0].posted_at == datetime(2021, 7, 21, 21, 5, 14, tzinfo=UTC)


def test_recorded_comments_without_ids_are_dead_lettered_not_dropped(shared_dir):
    # comments_p1 was recorded with fields that leave out `id`: each becomes a bad item with the reason.
    body = fb_fixture(shared_dir, "facebook/apidata/comments/comments_p1.json")
    items, bad = fb.parse_comments(body, page_id=PAGE_ID, post_id="p")
    assert not items and len(bad) == len(body["data"]) and "has no id" in bad[0].reason
    assert fb.next_cursor(body)  # recorded paging continues


def test_recorded_messenger_message_and_conversation(shared_dir):
    message = fb_fixture(shared_dir, "facebook/apidata/messages/message_info.json")
    items, bad = fb.parse_conversations({"data": [{"id": "t_587956915396498", "messages": {"data": [message]}}]},
                                        page_id="2121008874780932")
    assert not bad and len(items) == 1
    item = items[0]
    assert item.kind == "direct" and item.conversation_id == "t_587956915396498"
    assert item.author.external_id == "2711636948859886" and item.author.name == "Kun Liu"
    assert item.text == "[attachment]"  # an image without text


def test_recorded_instagram_comments_and_replies(shared_dir):
    comment = fb_fixture(shared_dir, "instagram/models/ig_comment.json")
    items, bad = ig.parse_comments({"data": [comment]}, account_id="999", media_id="17846368219941692")
    assert not bad
    assert [i.external_id for i in items] == ["17892250648466172", "17845747489952795"]
    assert items[1].in_reply_to_external_id == "17892250648466172"
    assert items[0].author.handle == "ikroskun"
    page = fb_fixture(shared_dir, "instagram/apidata/medias/comments_p1.json")
    items, bad = ig.parse_comments(page, account_id="999", media_id="m")
    assert len(items) == 2 and items[0].text == "Beautiful!" and items[0].author is None


# ---------------------------------------------------------------- polling a page

@pytest.mark.django_db(transaction=True)
def test_poll_stores_feed_comments_and_messages_once_and_opens_cases(kit_a, graph, shared_dir):
    from inbox.models import Case

    channel = meta_channel(kit_a.tenant, graph)
    feed = recorded_feed(shared_dir)
    for post in feed["data"]:
        post["created_time"] = timezone.now().strftime("%Y-%m-%dT%H:%M:%S+0000")
    graph.on("GET", f"{PAGE_ID}/feed", feed)
    message = fb_fixture(shared_dir, "facebook/apidata/messages/message_info.json")
    message["message"] = "Meu pedido não chegou, podem ajudar?"
    graph.on("GET", f"{PAGE_ID}/conversations", {"data": [{"id": "t_1", "messages": {"data": [message]}}]})

    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert run.outcome == PollRun.Outcome.OK, run.error
    stored = Mention.objects.filter(tenant=kit_a.tenant, channel=channel)
    assert stored.filter(kind="comment").count() == 2 and stored.filter(kind="direct").count() == 1
    assert graph.requests[0]["auth"] == "Bearer EAAB-page-token"
    again = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert again.stored == 0 and again.duplicates == again.fetched
    assert Case.objects.filter(tenant=kit_a.tenant, channel=channel).exists()


@pytest.mark.django_db(transaction=True)
def test_poll_follows_a_recorded_comments_paging_with_replies_newest_first(kit_a, graph, shared_dir):
    # comments_p1/p2 were recorded with filter=stream (replies included: p2 holds a `reply_comment_id` permalink)
    # and fields that leave out `id`: the ids are put back here, the rest is the recording.
    channel = meta_channel(kit_a.tenant, graph)
    post = dict(next(iter(fb_fixture(shared_dir, "facebook/apidata/posts/multi_posts_data_fields.json").values())),
                created_time=timezone.now().strftime("%Y-%m-%dT%H:%M:%S+0000"))
    pages = [fb_fixture(shared_dir, f"facebook/apidata/comments/comments_p{n}.json") for n in (1, 2)]
    for n, comment in enumerate(c for page in pages for c in page["data"]):
        comment["id"] = f"{post['id']}_{n}"
    graph.on("GET", f"{PAGE_ID}/feed", {"data": [dict(post, comments=pages[0])]})
    graph.on("GET", f"{post['id']}/comments", pages[1])
    graph.on("GET", f"{PAGE_ID}/conversations", {"data": []})

    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)

    assert run.outcome == PollRun.Outcome.OK, run.error
    assert Mention.objects.filter(tenant=kit_a.tenant, channel=channel, kind="comment").count() == 15
    feed = next(r for r in graph.requests if r["path"].endswith("/feed"))
    assert "comments.filter(stream).order(reverse_chronological)" in feed["query"]["fields"][0]
    more = next(r for r in graph.requests if r["path"].endswith("/comments"))
    assert (more["query"]["filter"], more["query"]["order"], more["query"]["after"]) == \
        (["stream"], ["reverse_chronological"], ["after"])


@pytest.mark.django_db
def test_expired_page_token_marks_channel_needs_reauth(kit_a, graph, shared_dir):
    errors = json.loads((shared_dir / "fixtures/facebook/errors/graph_api_errors_observed.json").read_text())
    expired = next(i["body"] for i in errors["items"] if i["code"] == 190)
    channel = meta_channel(kit_a.tenant, graph)
    graph.on("GET", f"{PAGE_ID}/feed", expired, status=400)
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    channel.refresh_from_db()
    assert channel.status == ChannelAccount.Status.NEEDS_REAUTH
    assert "connect the channel again" in channel.status_detail and run.outcome == "failed"


@pytest.mark.django_db
def test_rate_limit_code_4_moves_the_next_poll(kit_a, graph, shared_dir):
    errors = json.loads((shared_dir / "fixtures/facebook/errors/graph_api_errors_observed.json").read_text())
    limited = next(i["body"] for i in errors["items"] if i["code"] == 4)
    channel = meta_channel(kit_a.tenant, graph)
    graph.on("GET", f"{PAGE_ID}/feed", limited, status=403,
             headers={"X-App-Usage": '{"call_count":100,"total_cputime":12,"total_time":40}'})
    before = timezone.now()
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    channel.refresh_from_db()
    assert channel.status == "active"
    assert channel.next_poll_at >= before + timedelta(minutes=59)
    assert "rate limited" in PollRun.objects.get(channel=channel).rate_note


@pytest.mark.django_db
def test_high_app_usage_slows_polling_before_meta_throttles(kit_a, graph):
    channel = meta_channel(kit_a.tenant, graph)
    graph.on("GET", f"{PAGE_ID}/feed", {"data": []}, headers={"X-App-Usage": '{"call_count":95}'})
    graph.on("GET", f"{PAGE_ID}/conversations", {"data": []}, headers={"X-App-Usage": '{"call_count":95}'})
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    channel.refresh_from_db()
    assert channel.next_poll_at > timezone.now() + timedelta(minutes=30)


# ---------------------------------------------------------------- outbound

def _comment(channel, *, external_id="111_222", days_old=0, author_id="555"):
    item = MentionItem(external_id=external_id, kind="comment", text="Minha fatura veio errada",
                       posted_at=timezone.now() - timedelta(days=days_old), raw={}, conversation_id="111",
                       permalink=f"https://www.facebook.com/{PAGE_ID}/posts/111/?comment_id=222",
                       author=ProfileItem(platform="facebook", external_id=author_id, name="Ana Souza"))
    run = PollRun.objects.create(tenant=channel.tenant, channel=channel)
    ingest_batch(channel=channel, page=Page(items=[item], cursor=None), run=run)
    return Mention.objects.get(channel=channel, external_id=external_id)


@pytest.mark.django_db
def test_private_reply_goes_once_per_comment_and_keeps_its_permalink(kit_a, graph):
    channel = meta_channel(kit_a.tenant, graph)
    _comment(channel)
    graph.on("POST", f"{PAGE_ID}/messages", {"recipient_id": "1254477777772919", "message_id": "m_AG5Hz2U"})
    connector = connector_for(channel)
    sent = connector.send(OutboundMessage(visibility="private", text="Olá Ana, chamei você no privado",
                                          in_reply_to_external_id="111_222"))
    assert sent == "m_AG5Hz2U"
    assert graph.posted("/messages")[0]["recipient"] == {"comment_id": "111_222"}
    record = SentMessage.objects.get(channel=channel, private_reply_to_comment="111_222")
    assert record.external_id == "m_AG5Hz2U" and record.comment_permalink.endswith("comment_id=222")
    with pytest.raises(PermanentError, match="only one private reply per comment"):
        connector.send(OutboundMessage(visibility="private", text="de novo", in_reply_to_external_id="111_222"))
    assert len(graph.posted("/messages")) == 1


@pytest.mark.django_db
def test_private_reply_after_seven_days_is_refused_with_the_reason(kit_a, graph):
    channel = meta_channel(kit_a.tenant, graph)
    _comment(channel, days_old=8)
    with pytest.raises(PermanentError, match="only within 7 days"):
        connector_for(channel).send(OutboundMessage(visibility="private", text="oi",
                                                    in_reply_to_external_id="111_222"))
    assert graph.posted("/messages") == []


@pytest.mark.django_db
def test_a_refused_private_reply_can_be_tried_again(kit_a, graph):
    channel = meta_channel(kit_a.tenant, graph)
    _comment(channel)
    graph.on("POST", f"{PAGE_ID}/messages", {"error": {"message": "(#100) Invalid parameter", "code": 100}},
             status=400)
    with pytest.raises(PermanentError, match="#100"):
        connector_for(channel).send(OutboundMessage(visibility="private", text="oi",
                                                    in_reply_to_external_id="111_222"))
    assert not SentMessage.objects.filter(channel=channel).exists()


@pytest.mark.django_db
def test_public_comment_reply_comes_back_as_ours_not_as_a_customer_mention(kit_a, graph, shared_dir):
    channel = meta_channel(kit_a.tenant, graph)
    _comment(channel)
    created = fb_fixture(shared_dir, "facebook/apidata/comments/create_resp.json")
    graph.on("POST", "111_222/comments", {"id": created["id"]})
    assert connector_for(channel).send(OutboundMessage(visibility="public", text="Resolvemos!",
                                                       in_reply_to_external_id="111_222")) == created["id"]
    assert graph.posted("/comments") == [{"message": "Resolvemos!"}]
    # The next poll reads it back (author: someone, not even the page): known by its id, stored as ours.
    echo = MentionItem(external_id=created["id"], kind="comment", text="Resolvemos!", posted_at=timezone.now(),
                       raw=created, author=ProfileItem(platform="facebook", external_id="7"))
    run = PollRun.objects.create(tenant=channel.tenant, channel=channel)
    result = ingest_batch(channel=channel, page=Page(items=[echo], cursor=None), run=run)
    assert result.stored_ids == []
    mention = Mention.objects.get(channel=channel, external_id=created["id"])
    assert mention.direction == "out" and mention.triaged_at is not None


@pytest.mark.django_db
def test_messenger_reply_answers_the_customer_psid(kit_a, graph):
    channel = meta_channel(kit_a.tenant, graph)
    item = MentionItem(external_id="m_1", kind="direct", text="oi", posted_at=timezone.now(), raw={},
                       author=ProfileItem(platform="facebook", external_id="1423587017700273"))
    ingest_batch(channel=channel, page=Page(items=[item], cursor=None),
                 run=PollRun.objects.create(tenant=channel.tenant, channel=channel))
    graph.on("POST", f"{PAGE_ID}/messages", {"recipient_id": "1423587017700273", "message_id": "m_2"})
    assert connector_for(channel).send(OutboundMessage(visibility="private", text="Olá!",
                                                       in_reply_to_external_id="m_1")) == "m_2"
    assert graph.posted("/messages")[0]["recipient"] == {"id": "1423587017700273"}


@pytest.mark.django_db
def test_instagram_poll_and_reply(kit_a, graph, shared_dir):
    channel = meta_channel(kit_a.tenant, graph, platform=Platform.INSTAGRAM, account_id=IG_ID)
    comment = fb_fixture(shared_dir, "instagram/models/ig_comment.json")
    comment["user"] = {"id": "17841400000000001"}  # a customer, not the brand account of the recording
    graph.on("GET", f"{IG_ID}/media", {"data": [{"id": "17846368219941692", "permalink": "https://www.instagram.com/p/x/",
                                                 "comments": {"data": [comment]}}]})
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert run.outcome == "ok" and run.stored == 2
    graph.on("POST", "17892250648466172/replies", {"id": "17900000000000001"})
    assert connector_for(channel).send(OutboundMessage(
        visibility="public", text="Obrigado!", in_reply_to_external_id="17892250648466172")) == "17900000000000001"
