"""Batch triage (a whole ingest page in one transaction) and what a customer's new message does to their
resolved or closed case: reopen within the tenant's window, file a thank-you in the thread, or open a case
that follows the old one."""

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_ingest.models import Mention
from inbox import services
from inbox.models import Case, CaseMention, MentionTriage
from inbox.services import case_status_change, mentions_triage
from sac.models import AuditEvent

from ..factories import ingest, mention_item, open_case


def _triage(kit, items):
    result = ingest(kit.channel, items)
    mentions_triage(tenant_id=kit.tenant.pk, mention_ids=result.stored_ids)
    return result.stored_ids


def test_a_page_of_mentions_opens_one_case_per_customer_with_all_their_messages(kit_a):
    start = datetime.now(UTC) - timedelta(minutes=30)
    items = []
    for i in range(40):
        author = str(1000 + i % 10)  # ten customers, four messages each
        items.append(mention_item(f"sem sinal no bairro {i}, ninguém resolve!", author_id=author,
                                  posted_at=start + timedelta(minutes=i)))
    ids = _triage(kit_a, items)
    cases = Case.objects.filter(tenant=kit_a.tenant)
    assert cases.count() == 10
    for case in cases:
        linked = Mention.objects.filter(tenant=kit_a.tenant, case_link__case=case).order_by("posted_at")
        assert linked.count() == 4
        # The case starts at the customer's first message; its clocks run from there.
        assert case.first_message_at == linked.first().posted_at
        assert case.last_customer_message_at == linked.last().posted_at
        assert case.first_response_due == case.first_message_at + timedelta(minutes=60)
    assert MentionTriage.objects.filter(tenant=kit_a.tenant, mention_id__in=ids).count() == 40
    assert not Mention.objects.filter(pk__in=ids, triaged_at__isnull=True).exists()
    protocols = sorted(cases.values_list("protocol", flat=True))
    assert len(set(protocols)) == 10 and int(protocols[-1][-6:]) - int(protocols[0][-6:]) == 9


def test_batch_triage_costs_a_fixed_number_of_statements_not_one_set_per_mention(kit_a):
    """What makes ingest keep up with a viral day: the statements do not grow with the page."""

    def statements(n: int, first_author: int) -> int:
        result = ingest(kit_a.channel, [mention_item(f"cobrança indevida {i}, quero estorno!",
                                                     author_id=str(first_author + i)) for i in range(n)])
        with CaptureQueriesContext(connection) as queries:
            mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
        assert Case.objects.filter(tenant=kit_a.tenant, case_mentions__mention_id__in=result.stored_ids).count() == n
        return len(queries)

    assert statements(50, 5000) == statements(5, 6000)


def test_new_cases_are_written_once_with_their_due_times(kit_a):
    """The SLA app fills the due times before the INSERT (cases_opening): a page of new cases is not written
    a second time by an UPDATE, which on the queue's table rewrites every index of every fresh row."""
    result = ingest(kit_a.channel, [mention_item(f"fatura errada {i}, quero estorno!", author_id=str(7000 + i))
                                    for i in range(20)])
    with CaptureQueriesContext(connection) as queries:
        mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    assert not [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "inbox_case"')]
    cases = Case.objects.filter(tenant=kit_a.tenant)
    assert cases.count() == 20
    for case in cases:
        assert case.first_response_due == case.first_message_at + timedelta(minutes=60)
        assert case.resolution_due is not None and case.resolution_due > case.first_response_due
        assert case.sla_clock.first_response_warn_at is not None


def test_one_mention_that_breaks_triage_holds_back_nobody(kit_a, monkeypatch, caplog):
    real = services.cases.triage

    def fragile(item, config):
        if "boom" in item.text:
            raise ValueError("a bug in a lexicon")
        return real(item, config)

    monkeypatch.setattr(services.cases, "triage", fragile)
    result = ingest(kit_a.channel, [mention_item("sem internet, absurdo", author_id="1"),
                                    mention_item("boom", author_id="2"),
                                    mention_item("cobrança errada, quero estorno", author_id="3")])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 2
    broken = Mention.objects.get(tenant=kit_a.tenant, text="boom")
    assert broken.triaged_at is None  # left for the sweep, and logged
    assert "triage failed for mention" in caplog.text


def test_a_new_complaint_within_the_window_reopens_the_resolved_case(kit_a):
    case = open_case(kit_a, "sem sinal no centro, absurdo", author_id="77")
    case = services.case_claim(tenant=kit_a.tenant, membership=kit_a.agent, case=case)
    case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status="resolved")
    _triage(kit_a, [mention_item("voltou a cair, continua sem sinal!", author_id="77")])
    case.refresh_from_db()
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 1
    assert case.status == Case.Status.OPEN and case.resolved_at is None
    assert case.assignee == kit_a.agent.user  # back to whoever knows the story
    assert CaseMention.objects.filter(tenant=kit_a.tenant, case=case).count() == 2
    assert AuditEvent.objects.filter(tenant=kit_a.tenant, verb="case.reopened", object_id=str(case.pk)).exists()
    # A fresh resolution target runs from the reopening, not the stale one of the first problem.
    assert case.resolution_due is not None and case.resolution_due > datetime.now(UTC) + timedelta(hours=23)


def test_a_thank_you_after_resolution_is_filed_in_the_thread_without_reopening(kit_a):
    case = open_case(kit_a, "sem sinal no centro, absurdo", author_id="77")
    case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, new_status="resolved")
    ids = _triage(kit_a, [mention_item("obrigado!", author_id="77")])
    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED
    assert CaseMention.objects.filter(tenant=kit_a.tenant, case=case, mention_id=ids[0]).exists()
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 1


def test_after_the_window_or_once_closed_a_new_case_follows_the_old_one(kit_a):
    kit_a.tenant.reopen_window_days = 2
    kit_a.tenant.save(update_fields=["reopen_window_days"])
    old = open_case(kit_a, "sem sinal no centro, absurdo", author_id="77")
    case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=old, new_status="resolved")
    Case.objects.filter(pk=old.pk).update(resolved_at=datetime.now(UTC) - timedelta(days=3))
    _triage(kit_a, [mention_item("de novo sem sinal, absurdo", author_id="77")])
    new = Case.objects.filter(tenant=kit_a.tenant).exclude(pk=old.pk).get()
    assert new.follows == old and new.status == Case.Status.NEW
    old.refresh_from_db()
    assert old.status == Case.Status.RESOLVED

    Case.objects.filter(pk=new.pk).update(status=Case.Status.CLOSED, resolved_at=datetime.now(UTC))
    _triage(kit_a, [mention_item("e agora caiu a fibra, absurdo", author_id="77")])
    newest = Case.objects.filter(tenant=kit_a.tenant).order_by("-pk").first()
    assert newest.follows_id == new.pk and newest.status == Case.Status.NEW


def test_another_tenants_resolved_case_of_the_same_account_is_never_reopened(kit_a, kit_b):
    theirs = open_case(kit_b, "sem sinal no centro, absurdo", author_id="77")
    case_status_change(tenant=kit_b.tenant, membership=kit_b.supervisor, case=theirs, new_status="resolved")
    _triage(kit_a, [mention_item("voltou a cair, continua sem sinal!", author_id="77")])
    theirs.refresh_from_db()
    assert theirs.status == Case.Status.RESOLVED
    ours = Case.objects.get(tenant=kit_a.tenant)
    assert ours.follows_id is None


def test_the_admin_sets_the_reopen_window_on_the_inbox_settings_page(kit_a, kit_b):
    from django.urls import reverse

    from ..conftest import login

    assert "Reopen window" in login(kit_a.admin).get(
        reverse("inbox:inbox_settings", args=[kit_a.tenant.slug])).content.decode()
    page = login(kit_a.admin).post(reverse("inbox:inbox_settings", args=[kit_a.tenant.slug]),
                                   {"reopen_window_days": "0"}, follow=True)
    assert page.status_code == 200
    kit_a.tenant.refresh_from_db()
    kit_b.tenant.refresh_from_db()
    assert kit_a.tenant.reopen_window_days == 0 and kit_b.tenant.reopen_window_days == 7
    bad = login(kit_a.admin).post(reverse("inbox:inbox_settings", args=[kit_a.tenant.slug]),
                                  {"reopen_window_days": "-3"})
    assert bad.status_code == 400
    # With no window, the customer's next complaint opens a new case that follows the resolved one.
    old = open_case(kit_a, "sem sinal no centro, absurdo", author_id="77")
    case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=old, new_status="resolved")
    _triage(kit_a, [mention_item("voltou a cair, continua sem sinal!", author_id="77")])
    assert Case.objects.get(tenant=kit_a.tenant, follows=old).status == Case.Status.NEW


def test_a_broker_outage_after_ingest_leaves_triage_to_the_sweep(kit_a, monkeypatch, caplog,
                                                                 django_capture_on_commit_callbacks):
    from datetime import timedelta as td

    from django.utils import timezone
    from kombu.exceptions import OperationalError

    from inbox import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.mentions_triage_drain, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(kit_a.channel, [mention_item("sem internet de novo, absurdo", author_id="9")])
    assert "left to the sweep" in caplog.text  # the poll goes on; nothing raised into it
    stored = Mention.objects.filter(pk__in=result.stored_ids)
    assert stored.filter(triaged_at__isnull=True).count() == 1
    stored.update(received_at=timezone.now() - td(minutes=5))
    monkeypatch.undo()  # the broker is back
    assert tasks.mentions_triage_sweep.apply().get() == 1
    assert Case.objects.filter(tenant=kit_a.tenant, case_mentions__mention_id__in=result.stored_ids).exists()
