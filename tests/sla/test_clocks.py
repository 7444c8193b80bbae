from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from inbox.models import Case
from inbox.services import case_status_change, reply_create, reply_deliver
from sla.models import CaseClock, SLAAlert, SLAEvent, SLANotification, SLAPolicy, Target
from sla.selectors import compliance
from sla.services import business_calendar_save, case_status_moved, sla_digest_send, sla_sweep
from tests.factories import ingest, mention_item, open_case

pytestmark = pytest.mark.django_db


def _reply(kit, case, text="Oi! Estamos verificando."):
    reply = reply_create(tenant=kit.tenant, membership=kit.supervisor, case=case, text=text, visibility="public",
                         idempotency_key=f"k-{case.pk}-{text}")
    reply_deliver(tenant_id=kit.tenant.pk, reply_id=reply.pk)
    case.refresh_from_db()
    return case


def test_it_picks_the_first_matching_policy_in_the_admins_order(kit_a):
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Default", is_default=True, position=99,
                             first_response_minutes=240)
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Other channel", position=1, channel=None,
                             category="nonexistent", first_response_minutes=5)
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Urgent here", position=2, channel=kit_a.channel,
                             min_priority=1, first_response_minutes=15)
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Later match", position=3, first_response_minutes=30)
    posted = datetime.now(UTC) - timedelta(minutes=3)
    case = open_case(kit_a, posted_at=posted)
    assert case.first_response_due == posted + timedelta(minutes=15)
    assert CaseClock.objects.get(case=case).policy.name == "Urgent here"


def test_the_first_response_clock_starts_at_the_customers_first_message(kit_a):
    posted = datetime.now(UTC) - timedelta(hours=5)  # ingested much later than posted
    case = open_case(kit_a, posted_at=posted)
    assert case.first_response_due == posted + timedelta(minutes=60)


def test_business_hours_policy_sets_due_times_on_the_tenant_calendar(kit_a):
    calendar = business_calendar_save(tenant=kit_a.tenant, name="Office",
                                      windows={str(d): [["09:00", "18:00"]] for d in range(5)},
                                      country="BR", subdivision="SP")
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Office hours", is_default=True, calendar=calendar,
                             first_response_minutes=60, resolution_minutes=8 * 60)
    # Friday 17:30 in São Paulo (UTC-3): the answer is due Monday 09:30, resolution Monday 16:30.
    posted = datetime(2026, 11, 27, 20, 30, tzinfo=UTC)
    case = open_case(kit_a, posted_at=posted)
    assert case.first_response_due == datetime(2026, 11, 30, 12, 30, tzinfo=UTC)
    assert case.resolution_due == datetime(2026, 11, 30, 19, 30, tzinfo=UTC)


def test_an_answer_in_time_is_recorded_as_met_and_counts_for_compliance(kit_a):
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=10))
    case = _reply(kit_a, case)
    event = SLAEvent.objects.get(case=case, target=Target.FIRST_RESPONSE)
    assert event.met is True
    assert compliance(kit_a.tenant, since=timezone.now() - timedelta(days=1), until=timezone.now() + timedelta(1)) \
        == {"met": 1, "missed": 0, "percent": 100.0}


def test_the_sweep_finds_a_breach_once_notifies_and_a_late_answer_stays_missed(kit_a):
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=2))
    assert sla_sweep()["breach"] == 1
    assert sla_sweep()["breach"] == 0  # the second minute's sweep does not repeat it
    alert = SLAAlert.objects.get(case=case, target=Target.FIRST_RESPONSE)
    assert alert.level == "breach"
    notified = set(SLANotification.objects.filter(alert=alert).values_list("user_id", flat=True))
    assert notified == {kit_a.supervisor.user_id, kit_a.admin.user_id}
    case = _reply(kit_a, case)
    assert list(SLAEvent.objects.filter(case=case, target=Target.FIRST_RESPONSE).values_list("met", flat=True)) \
        == [False]


def test_near_breach_at_the_configured_share_of_the_target(kit_a):
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Default", is_default=True, first_response_minutes=100,
                             warn_percent=50)
    open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=40))
    assert sla_sweep()["warning"] == 0
    late = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=55), author_id="77", handle="outro")
    assert sla_sweep() == {"warning": 1, "breach": 0, "failed": 0}
    assert SLAAlert.objects.get(level="warning").case == late


def test_one_bad_row_never_stops_the_sweep(kit_a, monkeypatch):
    first = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=3))
    second = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=2), author_id="77", handle="outro")
    from sla import services

    real = services.sla_event_record

    def broken(*, case, **kwargs):
        if case.pk == first.pk:
            raise RuntimeError("corrupt row")
        return real(case=case, **kwargs)

    monkeypatch.setattr(services, "sla_event_record", broken)

    def chunk_fails(crossings, now):  # the corrupt row breaks the bulk statement too
        raise RuntimeError("corrupt row in the chunk")

    monkeypatch.setattr(services, "_alerts_bulk", chunk_fails)
    result = sla_sweep()
    assert result == {"warning": 0, "breach": 1, "failed": 1}
    assert SLAAlert.objects.filter(case=second).exists() and not SLAAlert.objects.filter(case=first).exists()


def test_a_burst_of_breaches_is_handled_in_bulk_with_the_same_outcome(kit_a):
    cases = [open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=2), author_id=f"6{n}", handle=f"b{n}")
             for n in range(5)]
    Case.objects.filter(pk=cases[0].pk).update(assignee=kit_a.agent.user)
    assert sla_sweep()["breach"] == 5
    assert sla_sweep()["breach"] == 0
    assert SLAEvent.objects.filter(tenant=kit_a.tenant, met=False).count() == 5
    assert set(SLANotification.objects.filter(alert__case=cases[0]).values_list("user_id", flat=True)) == {
        kit_a.agent.user_id, kit_a.supervisor.user_id, kit_a.admin.user_id}
    from sac.models import AuditEvent
    assert AuditEvent.objects.filter(tenant=kit_a.tenant, verb="sla.breach").count() == 5
    from sla.selectors import rollups_check
    assert rollups_check(kit_a.tenant) == []


def test_the_digest_sends_one_email_per_person_not_one_per_breach(kit_a):
    kit_a.supervisor.user.email = "sup@acme.test"
    kit_a.supervisor.user.save(update_fields=["email"])
    for n in range(3):
        open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=2), author_id=f"9{n}", handle=f"c{n}")
    sla_sweep()
    mail.outbox.clear()
    from django.test import TestCase
    with TestCase.captureOnCommitCallbacks(execute=True):
        sla_digest_send()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["sup@acme.test"] and "3 SLA alerts" in mail.outbox[0].subject
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert sla_digest_send() == 0


def test_resolution_pauses_while_waiting_on_the_customer_and_resumes_on_their_reply(kit_a):
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Default", is_default=True, resolution_minutes=120)
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=30))
    first_due = case.first_response_due
    case = case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case,
                              new_status=Case.Status.PENDING_CUSTOMER)
    case.refresh_from_db()
    assert case.resolution_due is None and case.first_response_due == first_due  # first response never pauses
    clock = CaseClock.objects.get(case=case)
    assert 89 * 60 < clock.resolution_remaining_seconds <= 90 * 60
    # The customer writes back: the case is open again with the 90 minutes that were left.
    ingest(kit_a.channel, [mention_item("Ainda sem sinal aqui, podem ver?")])
    from channels_ingest.models import Mention
    from inbox.services import mentions_triage
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=list(
        Mention.objects.filter(tenant=kit_a.tenant, triaged_at__isnull=True).values_list("pk", flat=True)))
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    left = case.resolution_due - timezone.now()
    assert timedelta(minutes=88) < left <= timedelta(minutes=90)


def test_a_pause_over_business_hours_resumes_with_the_business_time_left(kit_a):
    calendar = business_calendar_save(tenant=kit_a.tenant, name="Office",
                                      windows={str(d): [["09:00", "18:00"]] for d in range(5)})
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Default", is_default=True, calendar=calendar,
                             resolution_minutes=240)
    case = open_case(kit_a, posted_at=datetime(2026, 11, 23, 12, 0, tzinfo=UTC))  # Monday 09:00 in SP
    case.status = Case.Status.OPEN
    # Paused Monday 10:00 SP (3 h left), resumed Tuesday 17:00 SP → due Wednesday 11:00 SP.
    case_status_moved(case=case, old_status="open", new_status="pending_customer",
                      at=datetime(2026, 11, 23, 13, 0, tzinfo=UTC))
    case_status_moved(case=case, old_status="pending_customer", new_status="open",
                      at=datetime(2026, 11, 24, 20, 0, tzinfo=UTC))
    case.refresh_from_db()
    assert case.resolution_due == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def test_next_response_runs_from_the_oldest_unanswered_customer_message(kit_a):
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Default", is_default=True, next_response_minutes=30)
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=5))
    case = _reply(kit_a, case)
    from channels_ingest.models import Mention
    from inbox.services import mentions_triage
    older = datetime.now(UTC) - timedelta(minutes=40)
    for text, at in (("E agora?", older), ("Alô??", datetime.now(UTC))):
        tweet = kit_a.simulator.add_post(text)  # the reply answers it on the (simulated) network
        ingest(kit_a.channel, [mention_item(text, posted_at=at, external_id=tweet["id"])])
        mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=list(
            Mention.objects.filter(tenant=kit_a.tenant, triaged_at__isnull=True).values_list("pk", flat=True)))
    clock = CaseClock.objects.get(case=case)
    assert clock.next_response_due == older + timedelta(minutes=30)
    assert sla_sweep()["breach"] == 1
    _reply(kit_a, case, text="Resolvendo já.")
    clock.refresh_from_db()
    assert clock.next_response_due is None
    assert list(SLAEvent.objects.filter(case=case, target=Target.NEXT_RESPONSE).values_list("met", flat=True)) \
        == [False]


def test_resolving_records_met_or_missed(kit_a):
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=5))
    case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, new_status=Case.Status.RESOLVED)
    assert SLAEvent.objects.get(case=case, target=Target.RESOLUTION).met is True



def test_a_broken_calendar_never_stops_cases_from_opening(kit_a):
    from sla.models import BusinessCalendar
    calendar = BusinessCalendar.objects.create(tenant=kit_a.tenant, name="Broken", windows={"1": [["xx", "yy"]]})
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Default", is_default=True, calendar=calendar)
    posted = datetime.now(UTC) - timedelta(minutes=1)
    case = open_case(kit_a, posted_at=posted)
    assert case.first_response_due == posted + timedelta(minutes=60)  # calendar hours instead


def test_a_crossing_is_only_ever_applied_to_the_case_of_its_own_tenant(kit_a, kit_b):
    from sla.services import _alerts_bulk, sla_alert_raise

    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=3))
    now, due = datetime.now(UTC), case.first_response_due
    # Another tenant's id with our case id, in bulk and one by one: nothing is written, under either tenant.
    assert _alerts_bulk([(kit_b.tenant.pk, case.pk, "first_response", "breach", due)], now) == {
        "warning": 0, "breach": 0}
    assert sla_alert_raise(tenant_id=kit_b.tenant.pk, case_id=case.pk, target="first_response", level="breach",
                           due_at=due, now=now) is None
    assert not SLAAlert.objects.filter(case=case).exists() and not SLAEvent.objects.filter(case=case).exists()
    assert sla_sweep()["breach"] >= 1
    assert set(SLAAlert.objects.filter(case=case).values_list("tenant_id", flat=True)) == {kit_a.tenant.pk}
