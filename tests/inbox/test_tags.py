"""Tags: the admin's list, the case page's tag editor, and mandatory (campaign) tags enforced before resolving."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inbox.models import Case, Tag
from inbox.services import (
    CaseActionError,
    case_claim_next,
    case_missing_mandatory_tags,
    case_status_change,
    case_tag_add,
    case_tag_remove,
    tag_archive,
    tag_save,
)
from sac.models import AuditEvent

from ..conftest import login
from ..factories import open_case


def _claimed(kit, text="A internet caiu de novo, não funciona nada!", **kwargs) -> Case:
    case = open_case(kit, text, **kwargs)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def test_an_admin_creates_renames_and_archives_tags(kit_a):
    tag = tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="  campaign:   Black Friday ")
    assert tag.name == "campaign: Black Friday"
    tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=tag, name="Black Friday 2026")
    tag.refresh_from_db()
    assert tag.name == "Black Friday 2026"
    tag_archive(tenant=kit_a.tenant, membership=kit_a.admin, tag=tag)
    tag.refresh_from_db()
    assert tag.archived
    verbs = AuditEvent.objects.filter(tenant=kit_a.tenant, object_type="inbox.tag").values_list("verb", flat=True)
    assert list(verbs) == ["tag.created", "tag.updated", "tag.archived"]


def test_tag_rules_refuse_with_a_reason(kit_a):
    tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="Fraude")
    with pytest.raises(CaseActionError, match="already a tag called"):
        tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="fraude")
    with pytest.raises(CaseActionError, match="ends before it starts"):
        tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="BF", mandatory=True,
                 mandatory_from=date(2026, 11, 28), mandatory_until=date(2026, 11, 20))
    with pytest.raises(CaseActionError, match="only apply to a mandatory tag"):
        tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="BF", mandatory_from=date(2026, 11, 1))
    with pytest.raises(CaseActionError, match="Only tenant admins"):
        tag_save(tenant=kit_a.tenant, membership=kit_a.agent, tag=None, name="Agente")


def test_a_mandatory_tag_blocks_resolving_until_it_is_added(kit_a):
    case = _claimed(kit_a)
    reason = tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="Motivo", mandatory=True)
    tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="Produto", mandatory=True)
    with pytest.raises(CaseActionError, match="Add the mandatory tags “Motivo”, “Produto” before resolving"):
        case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status="resolved")
    case_tag_add(tenant=kit_a.tenant, membership=kit_a.agent, case=case, tag=reason)
    with pytest.raises(CaseActionError, match="“Produto”"):
        case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status="resolved")
    case_tag_add(tenant=kit_a.tenant, membership=kit_a.agent, case=case,
                 tag=Tag.objects.get(tenant=kit_a.tenant, name="Produto"))
    case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status="resolved")
    case.refresh_from_db()
    assert case.status == "resolved"


def test_a_campaign_tag_is_required_only_for_cases_that_came_in_during_the_campaign(kit_a):
    today = timezone.localdate()
    tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="campaign: Black Friday", mandatory=True,
             mandatory_from=today - timedelta(days=1), mandatory_until=today + timedelta(days=1))
    during = _claimed(kit_a, "A internet caiu de novo, não funciona nada!", author_id="1")
    before = open_case(kit_a, "Minha fatura veio errada, quero estorno!", author_id="2",
                       posted_at=timezone.now() - timedelta(days=5))
    assert [t.name for t in case_missing_mandatory_tags(kit_a.tenant, during)] == ["campaign: Black Friday"]
    assert case_missing_mandatory_tags(kit_a.tenant, before) == []


def test_archived_tags_are_neither_required_nor_offered(kit_a):
    case = _claimed(kit_a)
    tag = tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="Antiga", mandatory=True)
    tag_archive(tenant=kit_a.tenant, membership=kit_a.admin, tag=tag)
    assert case_missing_mandatory_tags(kit_a.tenant, case) == []
    with pytest.raises(CaseActionError, match="archived"):
        case_tag_add(tenant=kit_a.tenant, membership=kit_a.agent, case=case, tag=tag)


def test_only_the_assignee_or_a_supervisor_tags_a_case(kit_a):
    case = _claimed(kit_a)
    tag = tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="Fraude")
    with pytest.raises(CaseActionError, match="assignee or a supervisor"):
        case_tag_add(tenant=kit_a.tenant, membership=kit_a.agent2, case=case, tag=tag)
    case_tag_add(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, tag=tag)
    case_tag_remove(tenant=kit_a.tenant, membership=kit_a.agent, case=case, tag=tag)
    assert not case.tags.exists()


def test_the_case_page_tags_with_htmx_and_shows_what_resolving_still_needs(kit_a):
    case = _claimed(kit_a)
    tag = tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="Motivo", mandatory=True)
    client = login(kit_a.agent)
    page = client.get(reverse("inbox:case", args=["acme", case.pk]))
    assert "Before resolving, add the mandatory tag: “Motivo”" in page.content.decode()

    refused = client.post(reverse("inbox:case_status", args=["acme", case.pk]), {"status": "resolved"}, follow=True)
    assert "Add the mandatory tag “Motivo” before resolving" in refused.content.decode()
    case.refresh_from_db()
    assert case.status == "open"

    partial = client.post(reverse("inbox:case_tag_add", args=["acme", case.pk]), {"tag": tag.pk},
                          HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert 'data-tag="Motivo"' in html and 'hx-swap-oob="true"' in html and "Before resolving" not in html
    thread = client.get(reverse("inbox:case_thread", args=["acme", case.pk])).content.decode()
    assert "tagged it “Motivo”" in thread

    client.post(reverse("inbox:case_status", args=["acme", case.pk]), {"status": "resolved"})
    case.refresh_from_db()
    assert case.status == "resolved"


def test_the_tag_editor_refuses_garbage_without_a_500(kit_a):
    case = _claimed(kit_a)
    client = login(kit_a.agent)
    response = client.post(reverse("inbox:case_tag_add", args=["acme", case.pk]), {"tag": "abc"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Choose a tag to add." in response.content.decode()
    assert client.post(reverse("inbox:case_tag_add", args=["acme", case.pk]), {"tag": "999999"}).status_code == 404


def test_the_tags_page_is_for_admins(kit_a):
    assert login(kit_a.agent).get(reverse("inbox:tags", args=["acme"])).status_code == 403
    client = login(kit_a.admin)
    response = client.post(reverse("inbox:tags", args=["acme"]), {
        "name": "campaign: Black Friday", "mandatory": "on", "mandatory_from": "2026-11-27",
        "mandatory_until": "2026-11-30"}, follow=True)
    assert "Tag “campaign: Black Friday” created." in response.content.decode()
    tag = Tag.objects.get(tenant=kit_a.tenant)
    assert tag.mandatory and tag.mandatory_until == date(2026, 11, 30)
    bad = client.post(reverse("inbox:tags", args=["acme"]), {"name": "x", "mandatory_from": "yesterday"})
    assert bad.status_code == 400 and "Enter a valid date" in bad.content.decode()
    client.post(reverse("inbox:tag_edit", args=["acme", tag.pk]), {"name": "BF"})
    client.post(reverse("inbox:tag_archive", args=["acme", tag.pk]), {"archived": "1"})
    tag.refresh_from_db()
    assert tag.name == "BF" and not tag.mandatory and tag.archived


def test_another_tenant_cannot_use_a_tag(kit_a, kit_b):
    case_b = _claimed(kit_b)
    tag_a = tag_save(tenant=kit_a.tenant, membership=kit_a.admin, tag=None, name="Segredo A")
    response = login(kit_b.agent).post(reverse("inbox:case_tag_add", args=["beta", case_b.pk]), {"tag": tag_a.pk})
    assert response.status_code == 404
    with pytest.raises(CaseActionError):
        case_tag_add(tenant=kit_b.tenant, membership=kit_b.agent, case=case_b, tag=tag_a)
    assert not case_b.tags.exists()
