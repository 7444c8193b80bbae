"""A member of brand B, on B's own case and pages, naming one of brand A's objects in the path or in the form.

tests/test_cross_tenant_urls.py walks every URL with A's ids in the path, where A's case already stops the
request with a 404 before any inner lookup runs. Here the case (or page) is B's own, so each inner lookup is
what has to refuse A's object: canned replies, replies, tags, teams, channels, notifications.
"""

import io
import uuid

import pytest
from django.urls import reverse

from inbox.models import CannedReply, InboxSettings, Notification, Reply, Tag
from sac.models import Membership, Role, Team
from sac.services import membership_ensure

from ..conftest import login
from ..factories import open_case

pytestmark = pytest.mark.django_db


def _url(name: str, kit, *args) -> str:
    return reverse(f"inbox:{name}", args=[kit.tenant.slug, *args])


def test_rendering_a_canned_reply_of_another_brand_on_ones_own_case_is_refused(kit_a, kit_b):
    canned_a = CannedReply.objects.create(tenant=kit_a.tenant, title="A", shortcut="a", body="segredo da A")
    case_b = open_case(kit_b)
    response = login(kit_b.agent).get(_url("canned_render", kit_b, case_b.pk, canned_a.pk))
    assert response.status_code == 404 and b"segredo da A" not in response.content


def test_sending_with_another_brands_canned_reply_is_refused_and_counts_nothing_there(kit_a, kit_b):
    canned_a = CannedReply.objects.create(tenant=kit_a.tenant, title="A", shortcut="a", body="segredo da A")
    case_b = open_case(kit_b)
    response = login(kit_b.supervisor).post(_url("case_reply", kit_b, case_b.pk), {
        "text": "Olá!", "visibility": "public", "idempotency_key": uuid.uuid4().hex, "canned_reply": canned_a.pk})
    assert response.status_code == 404
    assert not Reply.objects.filter(case=case_b).exists()
    canned_a.refresh_from_db()
    assert canned_a.usage_count == 0


def test_retrying_another_brands_reply_from_ones_own_case_is_refused(kit_a, kit_b):
    case_a, case_b = open_case(kit_a), open_case(kit_b)
    reply_a = Reply.objects.create(tenant=kit_a.tenant, case=case_a, visibility="public", text="segredo da A",
                                   idempotency_key="retry-a", state=Reply.State.FAILED, error="boom")
    response = login(kit_b.supervisor).post(_url("reply_retry", kit_b, case_b.pk, reply_a.pk))
    assert response.status_code == 404
    reply_a.refresh_from_db()
    assert reply_a.state == Reply.State.FAILED and reply_a.attempts == 0


def test_removing_another_brands_tag_from_ones_own_case_is_refused(kit_a, kit_b):
    tag_a = Tag.objects.create(tenant=kit_a.tenant, name="segredo-a")
    case_a, case_b = open_case(kit_a), open_case(kit_b)
    case_a.tags.add(tag_a)
    response = login(kit_b.supervisor).post(_url("case_tag_remove", kit_b, case_b.pk, tag_a.pk))
    assert response.status_code == 404
    assert list(case_a.tags.all()) == [tag_a]


def test_transferring_ones_own_case_to_another_brands_team_or_member_is_refused(kit_a, kit_b):
    team_a = Team.objects.create(tenant=kit_a.tenant, name="Time secreto da A")
    case_b = open_case(kit_b)
    client = login(kit_b.supervisor)
    for form in ({"to_team": team_a.pk, "note": "x"}, {"to_member": kit_a.agent.pk, "note": "x"}):
        client.post(_url("case_transfer", kit_b, case_b.pk), form)
        case_b.refresh_from_db()
        assert case_b.team_id is None and case_b.assignee_id != kit_a.agent.user_id
    assert b"Time secreto da A" not in client.get(_url("case", kit_b, case_b.pk)).content


def test_a_canned_reply_cannot_be_tied_to_another_brands_channel(kit_a, kit_b):
    client = login(kit_b.admin)
    form = {"title": "Oi", "shortcut": "oi", "language": "", "platform": "", "channel": kit_a.channel.pk,
            "body": "Olá!"}
    response = client.post(_url("canned_new", kit_b), form)
    assert response.status_code == 400  # the form again, with the error
    assert not CannedReply.objects.filter(tenant=kit_b.tenant, shortcut="oi").exists()
    mine = client.post(_url("my_canned_new", kit_b), form)
    assert mine.status_code == 400
    assert not CannedReply.objects.filter(shortcut="oi").exists()


def test_the_human_agent_tag_cannot_be_switched_on_for_another_brands_channel(kit_a, kit_b):
    response = login(kit_b.admin).post(_url("inbox_settings", kit_b), {
        "reopen_window_days": 7, "human_agent_channels": [kit_a.channel.pk]})
    assert response.status_code == 400  # the form again, with the error
    assert not InboxSettings.objects.filter(human_agent_channels=kit_a.channel).exists()


def test_importing_a_csv_touches_only_ones_own_bank(kit_a, kit_b):
    canned_a = CannedReply.objects.create(tenant=kit_a.tenant, title="A", shortcut="desculpas", language="pt-br",
                                          body="texto da A")
    upload = io.BytesIO(b"shortcut,title,language,body\ndesculpas,Desculpas,pt-br,texto da B\n")
    upload.name = "bank.csv"
    login(kit_b.admin).post(_url("canned_import", kit_b), {"file": upload})
    canned_a.refresh_from_db()
    assert canned_a.body == "texto da A"
    assert CannedReply.objects.get(tenant=kit_b.tenant, shortcut="desculpas").body == "texto da B"


def test_someone_in_both_brands_sees_and_clears_only_the_brand_they_are_in(kit_a, kit_b):
    both = kit_a.agent
    membership_ensure(tenant=kit_b.tenant, username=both.user.username, role=Role.AGENT)
    assert Membership.objects.filter(user=both.user).count() == 2
    case_a, case_b = open_case(kit_a), open_case(kit_b)
    Notification.objects.create(tenant=kit_a.tenant, recipient=both.user, case=case_a, text="nota da A")
    Notification.objects.create(tenant=kit_a.tenant, recipient=both.user, case=case_a, text="outra da A")
    Notification.objects.create(tenant=kit_b.tenant, recipient=both.user, case=case_b, text="nota da B")
    client = login(both)
    bell_b = client.get(_url("notifications_bell", kit_b))
    assert bell_b.status_code == 200 and b"nota da A" not in bell_b.content
    assert b">1<" in bell_b.content.replace(b" ", b"") or b'"1"' in bell_b.content
    client.post(_url("notifications_read_all", kit_b))
    assert Notification.objects.filter(tenant=kit_a.tenant, recipient=both.user, read_at__isnull=True).count() == 2
    assert not Notification.objects.filter(tenant=kit_b.tenant, recipient=both.user, read_at__isnull=True).exists()
    assert b"nota da B" not in client.get(_url("notifications", kit_a)).content
