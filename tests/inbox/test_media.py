"""Images and videos customers send: the parsers keep them, the thread shows thumbnails linking to the original.
Every address here is loopback: nothing is fetched from the internet."""

from django.urls import reverse

from channels_ingest.facebook import parse as fb
from channels_ingest.models import Mention
from channels_ingest.x.parse import parse_mentions_page
from inbox.selectors import mention_media
from inbox.services import case_claim_next

from ..conftest import login
from ..factories import open_case

IMG = "http://127.0.0.1:9/media/photo.jpg"
POSTER = "http://127.0.0.1:9/media/poster.jpg"
VIDEO = "http://127.0.0.1:9/media/video.mp4"


def test_x_media_come_from_the_includes():
    body = {
        "data": [
            {"id": "11", "text": "olha isso", "created_at": "2026-11-23T10:00:00.000Z", "author_id": "1",
             "attachments": {"media_keys": ["3_1", "7_2", "3_missing"]}},
            {"id": "12", "text": "sem foto", "created_at": "2026-11-23T10:01:00.000Z", "author_id": "1"},
        ],
        "includes": {"media": [
            {"media_key": "3_1", "type": "photo", "url": IMG},
            {"media_key": "7_2", "type": "video", "preview_image_url": POSTER, "variants": [
                {"content_type": "application/x-mpegURL", "url": "http://127.0.0.1:9/media/video.m3u8"},
                {"content_type": "video/mp4", "bit_rate": 256000, "url": "http://127.0.0.1:9/media/low.mp4"},
                {"content_type": "video/mp4", "bit_rate": 832000, "url": VIDEO}]},
        ]},
        "meta": {},
    }
    page = parse_mentions_page("x", body, cursor={}, follow_pages=False)
    assert page.items[0].raw["sac_media"] == [
        {"type": "image", "url": IMG, "preview_url": IMG},
        {"type": "video", "url": VIDEO, "preview_url": POSTER},
    ]
    assert "sac_media" not in page.items[1].raw


def test_graph_comments_and_messenger_attachments_are_kept():
    comment = fb.comment_item({"id": "p_c1", "message": "", "created_time": "2026-11-23T10:00:00+0000",
                               "from": {"id": "9", "name": "Ana"},
                               "attachment": {"type": "photo", "media": {"image": {"src": IMG}}}},
                              page_id="p", post_id="p_1")
    assert comment.raw["sac_media"] == [{"type": "image", "url": IMG, "preview_url": IMG}]
    video = fb.comment_item({"id": "p_c2", "message": "vídeo", "created_time": "2026-11-23T10:00:00+0000",
                             "attachment": {"type": "video_inline", "url": VIDEO, "media": {"image": {"src": POSTER}}}},
                            page_id="p", post_id="p_1")
    assert video.raw["sac_media"] == [{"type": "video", "url": VIDEO, "preview_url": POSTER}]
    attachments = [{"type": "image", "payload": {"url": IMG}}, {"type": "video", "payload": {"url": VIDEO}}]
    webhook = fb.messaging_item({"sender": {"id": "9"}, "recipient": {"id": "p"}, "timestamp": 1763892000000,
                                 "message": {"mid": "m1", "attachments": attachments}}, page_id="p")
    assert webhook.text == "[image] [video]"
    assert [m["type"] for m in webhook.raw["sac_media"]] == ["image", "video"]
    message = fb.message_item({"id": "m2", "created_time": "2026-11-23T10:00:00+0000", "from": {"id": "9"},
                               "attachments": {"data": [{"mime_type": "image/jpeg",
                                                         "image_data": {"url": IMG, "preview_url": POSTER}}]}},
                              page_id="p", conversation_id="t1")
    assert message.raw["sac_media"] == [{"type": "image", "url": IMG, "preview_url": POSTER}]


def test_addresses_that_are_not_http_are_never_kept_or_shown():
    comment = fb.comment_item({"id": "p_c3", "message": "x", "created_time": "2026-11-23T10:00:00+0000",
                               "attachment": {"type": "photo", "media": {"image": {"src": "javascript:alert(1)"}}}},
                              page_id="p", post_id="p_1")
    assert "sac_media" not in comment.raw
    forged = Mention(raw={"sac_media": [{"type": "image", "url": "javascript:alert(1)", "preview_url": "data:x"},
                                        "junk", {"type": "image", "url": IMG}]})
    assert [(m.url, m.preview_url) for m in mention_media(forged)] == [(IMG, IMG)]


def test_the_thread_shows_thumbnails_that_link_to_the_original(kit_a):
    case = open_case(kit_a)
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    Mention.objects.filter(tenant=kit_a.tenant, case_link__case=case).update(raw={"sac_media": [
        {"type": "image", "url": IMG, "preview_url": IMG}, {"type": "video", "url": VIDEO, "preview_url": POSTER}]})
    html = login(kit_a.agent).get(reverse("inbox:case_thread", args=["acme", case.pk])).content.decode()
    assert f'<a href="{IMG}" target="_blank" rel="noopener noreferrer" class="media-image"' in html
    assert f'<img src="{IMG}"' in html
    assert f'<a href="{VIDEO}"' in html and f'<img src="{POSTER}"' in html and "▶ video" in html
