"""@mentions in internal notes notify colleagues of the same tenant under the bell in the page header."""

from django.urls import reverse

from inbox.models import Notification
from inbox.services import case_claim_next, mentioned_handles, note_add

from ..conftest import login
from ..factories import open_case


def _case(kit):
    case = open_case(kit)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def test_handles_are_read_like_people_write_them():
    assert mentioned_handles("@ana, pode ver? cc @Bruno.Lima. e @ana de novo") == ["ana", "Bruno.Lima"]
    assert mentioned_handles("mande para ana@acme.com.br") == []  # an e-mail address is not a mention
    assert mentioned_handles("(@acme-agent2)") == ["acme-agent2"]


def test_a_mentioned_colleague_is_notified_and_nobody_else(kit_a, kit_b):
    case = _case(kit_a)
    note_add(tenant=kit_a.tenant, membership=kit_a.agent, case=case,
             text="@ACME-agent2 e @acme-supervisor, cliente ameaçou Procon. @fulano @beta-agent @acme-agent")
    received = {n.recipient.username: n for n in Notification.objects.filter(tenant=kit_a.tenant)}
    # Case-insensitive; unknown handles, people of another brand and the author themself get nothing.
    assert set(received) == {"acme-agent2", "acme-supervisor"}
    assert received["acme-agent2"].text.startswith(f"acme-agent mentioned you on case {case.protocol}: @ACME-agent2")
    assert not Notification.objects.filter(tenant=kit_b.tenant).exists()


def test_the_bell_counts_unread_and_opening_one_marks_it_read(kit_a):
    case = _case(kit_a)
    note_add(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="@acme-agent2 olha esse")
    note_add(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="@acme-agent2 e esse também")
    colleague = login(kit_a.agent2)
    bell = colleague.get(reverse("inbox:notifications_bell", args=["acme"])).content.decode()
    assert 'id="bell-count"' in bell and ">2<" in bell
    page = colleague.get(reverse("inbox:notifications", args=["acme"])).content.decode()
    assert "olha esse" in page and "e esse também" in page
    first = Notification.objects.filter(tenant=kit_a.tenant).order_by("pk").first()
    opened = colleague.post(reverse("inbox:notification_open", args=["acme", first.pk]))
    assert opened.status_code == 302 and opened["Location"] == reverse("inbox:case", args=["acme", case.pk])
    assert ">1<" in colleague.get(reverse("inbox:notifications_bell", args=["acme"])).content.decode()
    colleague.post(reverse("inbox:notifications_read_all", args=["acme"]))
    assert "bell-count" not in colleague.get(reverse("inbox:notifications_bell", args=["acme"])).content.decode()


def test_nobody_opens_or_reads_someone_elses_notifications(kit_a, kit_b):
    case = _case(kit_a)
    note_add(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="@acme-agent2 segredo")
    notification = Notification.objects.get(tenant=kit_a.tenant)
    assert login(kit_a.supervisor).post(
        reverse("inbox:notification_open", args=["acme", notification.pk])).status_code == 404
    assert "segredo" not in login(kit_a.supervisor).get(reverse("inbox:notifications", args=["acme"])).content.decode()
    other_tenant = login(kit_b.agent).post(reverse("inbox:notification_open", args=["beta", notification.pk]))
    assert other_tenant.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_the_page_header_polls_the_bell(kit_a):
    page = login(kit_a.agent).get(reverse("inbox:queue", args=["acme"])).content.decode()
    assert 'id="bell"' in page and reverse("inbox:notifications_bell", args=["acme"]) in page
