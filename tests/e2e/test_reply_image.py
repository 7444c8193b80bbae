"""Attaching an image to a reply in a real browser: chosen in the composer, sent with the reply through the
simulated X API, shown in the thread and on the simulator's own page."""

import pytest
from playwright.sync_api import expect

from channels_ingest.services import channel_poll
from inbox.models import Reply

from ..inbox.test_reply_attachments import png

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_an_agent_attaches_an_image_and_sees_it_sent(live_server, page, kit_a):
    sim = kit_a.simulator
    sim.add_post("@acmetelecom a luz do modem fica piscando vermelho, o que eu faço?", author_username="caio")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "acme-agent")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.click("#claim-next")
    expect(page.locator(".msg.inbound")).to_contain_text("piscando vermelho")
    # X takes an image on a public reply: the composer says which and how large.
    expect(page.locator("#attach-hint")).to_contain_text("5 MB")
    page.set_input_files("#id_attachment", files=[{"name": "modem.png", "mimeType": "image/png",
                                                   "buffer": png(42)}])
    page.fill("#id_text", "Oi Caio! Veja na imagem qual botão apertar.")
    page.check("input[name=visibility][value=public]")
    page.click("#send-reply")

    expect(page.locator(".msg.outbound .state")).to_have_text("Sent")
    thread_image = page.locator(".msg.outbound .media img")
    expect(thread_image).to_be_visible()
    assert thread_image.evaluate("img => img.complete && img.naturalWidth") == 1
    reply = Reply.objects.get(tenant=kit_a.tenant)
    sent = [s for s in sim.sent if s["text"] == "Oi Caio! Veja na imagem qual botão apertar."]
    assert len(sent) == 1 and sent[0]["media_ids"] == [reply.media_external_id]

    # The simulated X shows the tweet with its image.
    page.goto(f"{sim.base_url}/_sim/")
    sim_image = page.locator(f"img.sent-media[data-media-id='{reply.media_external_id}']")
    expect(sim_image).to_be_visible()
    assert sim_image.evaluate("img => img.complete && img.naturalWidth") == 1
