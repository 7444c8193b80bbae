"""An image attached to a reply: stored per tenant, sent exactly once with the reply, refused where the network
takes none. The networks are the loopback simulator speaking their API shapes (tests/fixtures/media/)."""

import json
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from channels_ingest.connectors import connector_for
from channels_ingest.errors import TransientError
from channels_ingest.facebook.client import GraphClient
from channels_ingest.models import Platform
from channels_ingest.services import channel_create
from channels_ingest.simulator.graph import PAGE_ID
from channels_ingest.simulator.instagram import IG_USER_ID
from inbox.models import Reply, ReplyAttachment
from inbox.services import (
    CaseActionError,
    case_claim,
    case_claim_next,
    mentions_triage,
    reply_attachment_store,
    reply_create,
    reply_deliver,
    reply_retry,
)

from ..conftest import login
from ..factories import ingest, open_case

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "media"


def png(seed: int = 0, padding: int = 0) -> bytes:
    """A real 1×1 PNG (a different pixel per seed, so each test stores its own file), optionally padded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixel = zlib.compress(bytes([0, seed % 256, 80, 160]))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", pixel) + chunk(b"tEXt", b"c\x00" + b"x" * padding) + chunk(b"IEND", b""))


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _upload(data: bytes, name: str = "modem.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def _claimed(kit, text="A internet caiu de novo, não funciona nada!"):
    case = open_case(kit, text)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def _reply_with_image(kit, case, text: str, visibility: str, key: str, *, seed: int) -> Reply:
    """A queued reply on `case` with a PNG of its own (`seed`) attached, written by the kit's agent."""
    image = reply_attachment_store(membership=kit.agent, upload=_upload(png(seed)))
    return reply_create(tenant=kit.tenant, membership=kit.agent, case=case, text=text, visibility=visibility,
                        idempotency_key=key, attachment=image)


def _uploads(sim, path="/2/media/upload"):
    return [r for r in sim.requests if r["method"] == "POST" and r["path"].startswith(path) and r["status"] == 200]


def test_an_image_goes_out_once_with_a_public_reply_on_x(kit_a):
    case = _claimed(kit_a)
    reply = _reply_with_image(kit_a, case, "Veja como reiniciar o modem.", "public", "img-1", seed=1)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    sent = [s for s in kit_a.simulator.sent if s["text"] == "Veja como reiniciar o modem."]
    assert reply.state == Reply.State.SENT and len(sent) == 1
    assert sent[0]["media_ids"] == [reply.media_external_id]
    uploaded = kit_a.simulator.media(reply.media_external_id)
    assert uploaded["content"] == png(1) and uploaded["category"] == "tweet_image"
    assert len(_uploads(kit_a.simulator)) == 1


def test_the_simulators_upload_answer_has_the_references_shape(kit_a):
    body = kit_a.simulator.store.upload_media({"media": ("a.png", png(2), "image/png"),
                                               "media_category": ("", b"tweet_image", "")})
    reference = json.loads((FIXTURES / "x_media_upload.json").read_text())
    assert set(body["data"]) == set(reference["data"])
    assert body["data"]["media_key"] == f"3_{body['data']['id']}"


def test_a_retry_after_a_refused_post_reuses_the_uploaded_image(kit_a):
    case = _claimed(kit_a)
    reply = _reply_with_image(kit_a, case, "Segue o passo a passo.", "public", "img-2", seed=3)
    kit_a.simulator.inject_fault("rate_limit", route="create_tweet")  # the upload works, the post is refused
    with pytest.raises(TransientError):
        reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.QUEUED and reply.media_external_id  # the image's id is kept
    Reply.objects.filter(pk=reply.pk).update(next_attempt_at=None)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT
    assert len(_uploads(kit_a.simulator)) == 1  # not uploaded a second time
    assert [s["media_ids"] for s in kit_a.simulator.sent if s["text"] == "Segue o passo a passo."] \
        == [[reply.media_external_id]]


def test_a_failed_upload_posts_nothing_and_the_retry_sends_once(kit_a):
    case = _claimed(kit_a)
    reply = _reply_with_image(kit_a, case, "Foto do roteador.", "public", "img-3", seed=4)
    kit_a.simulator.inject_fault("server_error", route="media_upload")
    with pytest.raises(TransientError):
        reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    assert [s for s in kit_a.simulator.sent if s["text"] == "Foto do roteador."] == []
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT
    assert len([s for s in kit_a.simulator.sent if s["text"] == "Foto do roteador."]) == 1


def test_a_post_in_doubt_is_found_not_posted_or_uploaded_again(kit_a):
    case = _claimed(kit_a)
    reply = _reply_with_image(kit_a, case, "Olha a imagem do plano.", "public", "img-4", seed=5)
    kit_a.simulator.inject_fault("error_after_post", route="create_tweet")  # posted, then a 500
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and reply.error.startswith("Delivery unknown:")
    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply, outcome_checked=True)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT
    assert len([s for s in kit_a.simulator.sent if s["text"] == "Olha a imagem do plano."]) == 1
    assert len(_uploads(kit_a.simulator)) == 1


def test_a_dm_carries_its_image_as_a_dm_image(kit_a):
    case = _claimed(kit_a)
    reply = _reply_with_image(kit_a, case, "Segue o boleto corrigido.", "private", "img-5", seed=6)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    dm = [s for s in kit_a.simulator.sent if s["text"] == "Segue o boleto corrigido."]
    assert reply.state == Reply.State.SENT and dm[0]["kind"] == "dm"
    assert kit_a.simulator.media(dm[0]["media_ids"][0])["category"] == "dm_image"


def _facebook_case(kit, *, messenger: bool):
    sim = kit.simulator
    channel = channel_create(tenant=kit.tenant, platform=Platform.FACEBOOK, name="Acme no Facebook",
                             external_account_id=PAGE_ID, handle="acme", api_base_url=f"{sim.base_url}/graph/v21.0",
                             credentials={"page_access_token": "page-token"})
    if messenger:
        made = sim.graph.add_message("Meu boleto veio com valor errado, podem ajudar?", "Bia Rocha")
    else:
        made = sim.graph.add_comment("O sinal caiu de novo aqui no bairro, ninguém resolve!", "Ana Souza")
    result = ingest(channel, [i for i in connector_for(channel).fetch_page().items if i.external_id == made["id"]])
    mentions_triage(tenant_id=kit.tenant.pk, mention_ids=result.stored_ids)
    case = kit.tenant.cases.get(case_mentions__mention_id__in=result.stored_ids)
    case_claim(tenant=kit.tenant, membership=kit.agent, case=case)
    case.refresh_from_db()
    return case


def test_a_facebook_comment_reply_carries_an_unpublished_photo(kit_a):
    case = _facebook_case(kit_a, messenger=False)
    reply = _reply_with_image(kit_a, case, "Veja o mapa da manutenção.", "public", "img-fb-1", seed=7)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    sent = [s for s in kit_a.simulator.graph.sent if s["text"] == "Veja o mapa da manutenção."]
    assert reply.state == Reply.State.SENT and sent[0]["media_ids"] == [reply.media_external_id]
    assert kit_a.simulator.media(reply.media_external_id)["kind"] == "photos"


def _sent_once(kit, reply) -> tuple[dict, dict]:
    """The reply is sent, and the customer got its image message and its text message once each (the ids the
    row recorded): the simulator's record of the Messenger messages the page sent."""
    reply.refresh_from_db()
    sent = [s for s in kit.simulator.graph.sent if s["kind"] == "message"]
    images = [s for s in sent if s["media_ids"]]
    texts = [s for s in sent if s["text"] == reply.text]
    assert reply.state == Reply.State.SENT and len(images) == 1 and len(texts) == 1
    assert images[0]["id"] == reply.media_message_id and texts[0]["id"] == reply.external_id
    return images[0], texts[0]


def test_messenger_sends_the_image_once_even_when_the_text_must_be_retried(kit_a, monkeypatch):
    case = _facebook_case(kit_a, messenger=True)
    reply = _reply_with_image(kit_a, case, "Aqui está a fatura certa.", "private", "img-fb-2", seed=8)
    real_post, refused = GraphClient.post, []

    def post(self, path, data):
        if (data.get("message") or {}).get("text") and not refused:  # the text after the image: a 429 once
            refused.append(path)
            raise TransientError("Facebook rate limit reached (4)", retry_after_seconds=1)
        return real_post(self, path, data)

    monkeypatch.setattr(GraphClient, "post", post)
    with pytest.raises(TransientError):
        reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.QUEUED and reply.media_message_id
    Reply.objects.filter(pk=reply.pk).update(next_attempt_at=None)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    image, text = _sent_once(kit_a, reply)
    sent = kit_a.simulator.graph.sent
    assert sent.index(image) < sent.index(text)  # the image first, then the text


def test_a_private_reply_to_a_facebook_comment_refuses_an_image(kit_a):
    case = _facebook_case(kit_a, messenger=False)
    image = reply_attachment_store(membership=kit_a.agent, upload=_upload(png(9)))
    with pytest.raises(CaseActionError, match="text only"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Oi Ana, te chamamos no privado.",
                     visibility="private", idempotency_key="img-fb-3", attachment=image)
    assert not Reply.objects.filter(tenant=kit_a.tenant, case=case).exists()


def test_an_instagram_comment_reply_refuses_an_image(kit_a):
    sim = kit_a.simulator
    channel = channel_create(tenant=kit_a.tenant, platform=Platform.INSTAGRAM, name="Acme no Instagram",
                             external_account_id=IG_USER_ID, handle="acmetelecom",
                             api_base_url=f"{sim.base_url}/graph/v21.0", credentials={"access_token": "ig-token"})
    comment = sim.instagram.add_comment("Minha internet caiu de novo, ninguém resolve!", author_username="carla")
    result = ingest(channel, [i for i in connector_for(channel).fetch_page().items if i.external_id == comment["id"]])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    case = kit_a.tenant.cases.get(case_mentions__mention_id__in=result.stored_ids)
    case_claim(tenant=kit_a.tenant, membership=kit_a.agent, case=case)
    image = reply_attachment_store(membership=kit_a.agent, upload=_upload(png(10)))
    with pytest.raises(CaseActionError, match="Instagram comment replies are text only"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Oi Carla!", visibility="public",
                     idempotency_key="img-ig-1", attachment=image)


def test_what_is_not_an_image_or_too_large_is_refused_with_the_reason(kit_a):
    with pytest.raises(CaseActionError, match="not an image"):
        reply_attachment_store(membership=kit_a.agent, upload=_upload(b"%PDF-1.4 not an image", "x.png"))
    case = _claimed(kit_a)
    big = reply_attachment_store(membership=kit_a.agent, upload=_upload(png(11, padding=6 * 1024 * 1024)))
    with pytest.raises(CaseActionError, match="too large for .* up to 5 MB"):
        reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Imagem grande demais.",
                     visibility="public", idempotency_key="img-big", attachment=big)
    assert ReplyAttachment.objects.filter(tenant=kit_a.tenant).count() == 1  # the PDF was never stored


def test_the_same_image_twice_is_stored_once_in_the_tenants_own_folder(kit_a, kit_b, media_root):
    first = reply_attachment_store(membership=kit_a.agent, upload=_upload(png(12)))
    again = reply_attachment_store(membership=kit_a.agent2, upload=_upload(png(12), "copy.png"))
    theirs = reply_attachment_store(membership=kit_b.agent, upload=_upload(png(12)))
    assert first.pk == again.pk and theirs.pk != first.pk
    assert first.file.name.startswith(f"tenants/{kit_a.tenant.pk}/")
    assert theirs.file.name.startswith(f"tenants/{kit_b.tenant.pk}/")
    assert (media_root / first.file.name).read_bytes() == png(12)


def test_another_tenant_cannot_see_or_send_the_image(kit_a, kit_b):
    image = reply_attachment_store(membership=kit_a.agent, upload=_upload(png(13)))
    url_a = reverse("inbox:reply_attachment", args=["acme", image.pk])
    assert login(kit_a.agent).get(url_a).status_code == 200
    client_b = login(kit_b.agent)
    assert client_b.get(url_a).status_code in (403, 404)
    assert client_b.get(reverse("inbox:reply_attachment", args=["beta", image.pk])).status_code == 404
    # Nor can B send A's image by its id, through the service or the form.
    case_b = _claimed(kit_b)
    with pytest.raises(CaseActionError):
        reply_create(tenant=kit_b.tenant, membership=kit_b.agent, case=case_b, text="oi", visibility="public",
                     idempotency_key="steal", attachment=image)
    response = client_b.post(reverse("inbox:case_reply", args=["beta", case_b.pk]), {
        "text": "oi", "visibility": "public", "idempotency_key": "steal-form", "attachment_id": image.pk})
    assert response.status_code == 404
    assert not Reply.objects.filter(tenant=kit_b.tenant).exists()


def test_the_composer_sends_the_image_and_keeps_it_when_the_send_is_refused(kit_a, django_capture_on_commit_callbacks):
    case = _claimed(kit_a)
    client = login(kit_a.agent)
    url = reverse("inbox:case_reply", args=["acme", case.pk])
    page = client.get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="attachment"' in page
    # Too long for X: refused, the draft and its image are kept (no second upload needed).
    response = client.post(url, {"text": "x" * 300, "visibility": "public", "idempotency_key": "form-1",
                                 "attachment": _upload(png(14))})
    assert response.status_code == 400
    kept = ReplyAttachment.objects.get(tenant=kit_a.tenant)
    assert f'name="attachment_id" value="{kept.pk}"' in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"text": "Veja a imagem.", "visibility": "public", "idempotency_key": "form-1",
                                     "attachment_id": kept.pk})
    assert response.status_code == 302
    reply = Reply.objects.get(tenant=kit_a.tenant, case=case)
    assert reply.attachment_id == kept.pk and reply.state == Reply.State.SENT
    thread = client.get(reverse("inbox:case_thread", args=["acme", case.pk])).content.decode()
    assert reverse("inbox:reply_attachment", args=["acme", kept.pk]) in thread


def test_a_messenger_image_in_doubt_is_found_not_sent_again(kit_a):
    """The image's own message left and no clear answer came back: the agent's confirmed resend finds it in the
    conversation and sends only the text, so the customer never gets the image twice."""
    case = _facebook_case(kit_a, messenger=True)
    reply = _reply_with_image(kit_a, case, "Segue o comprovante.", "private", "img-fb-doubt", seed=9)
    kit_a.simulator.inject_fault("error_after_post", route="messages")  # the image message is sent, then a 500
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and reply.error.startswith("Delivery unknown:")
    assert not reply.media_message_id
    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply, outcome_checked=True)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    _sent_once(kit_a, reply)


def test_a_messenger_image_in_doubt_that_never_left_is_sent_on_the_resend(kit_a):
    case = _facebook_case(kit_a, messenger=True)
    reply = _reply_with_image(kit_a, case, "Segue a segunda via.", "private", "img-fb-lost", seed=10)
    kit_a.simulator.inject_fault("drop_after_post", route="messages")  # the connection drops: did it go?
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and reply.error.startswith("Delivery unknown:")
    # The simulator did take that message: forget it, as if the request had died before Meta saw it.
    graph = kit_a.simulator.graph
    lost = [s for s in graph.sent if s["kind"] == "message" and s["media_ids"]]
    assert len(lost) == 1
    for messages in graph.conversations.values():
        messages[:] = [m for m in messages if m["id"] != lost[0]["id"]]
    graph.sent.remove(lost[0])
    reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply, outcome_checked=True)
    reply_deliver(tenant_id=kit_a.tenant.pk, reply_id=reply.pk)
    reply.refresh_from_db()
    sent = [s for s in graph.sent if s["kind"] == "message"]
    assert reply.state == Reply.State.SENT
    assert len([s for s in sent if s["media_ids"]]) == 1 and len([s for s in sent if s["text"]]) == 1
