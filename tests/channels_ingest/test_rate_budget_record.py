"""Every poll run records what the network said is left of its rate budget (the specification: "Every poll run is
recorded (fetched, inserted, duplicates, errors, rate budget)"), shown on the channel health page in the reader's
language."""

import pytest
from django.urls import reverse

from channels_ingest.models import PollRun
from channels_ingest.services import channel_poll

from ..conftest import login
from .test_facebook_instagram import PAGE_ID, graph, meta_channel  # noqa: F401  (graph is a fixture)

pytestmark = pytest.mark.django_db


def test_an_x_poll_records_the_calls_left_in_its_window(kit_a):
    kit_a.simulator.add_post("@acmetelecom sem sinal desde ontem")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert run.outcome == PollRun.Outcome.OK
    assert run.rate_note.startswith("X rate budget: ") and " calls left until " in run.rate_note


def test_a_graph_poll_records_the_share_of_meta_budget_used(kit_a, graph):  # noqa: F811
    channel = meta_channel(kit_a.tenant, graph)
    graph.on("GET", f"{PAGE_ID}/feed", {"data": []}, headers={"X-App-Usage": '{"call_count":12,"total_time":31}'})
    graph.on("GET", f"{PAGE_ID}/conversations", {"data": []},
             headers={"X-App-Usage": '{"call_count":13,"total_time":30}'})
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    assert run.outcome == PollRun.Outcome.OK and run.rate_note == "Graph rate budget: 30 % used"


def test_the_health_page_shows_the_budget_in_the_readers_language(kit_a):
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    run = PollRun.objects.filter(tenant=kit_a.tenant, channel=kit_a.channel).latest("started_at")
    kit_a.tenant.locale = "pt-br"  # the brand's language (tests/channels_ingest/test_i18n_channel_pages.py)
    kit_a.tenant.save(update_fields=["locale"])
    url = reverse("channels_ingest:health", args=[kit_a.tenant.slug, kit_a.channel.pk])
    page = login(kit_a.admin).get(url).content.decode()
    remaining = run.rate_note.split(": ")[1].split(" of ")[0]
    assert f"limite de taxa do X: restam {remaining} de " in page
