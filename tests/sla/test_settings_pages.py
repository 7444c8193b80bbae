"""Tenant admins set SLA policies and business hours on their own pages; cases opened afterwards get them."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from sla.hours import Hours
from sla.models import BusinessCalendar, CaseClock, SLAPolicy
from tests.conftest import login
from tests.factories import open_case

pytestmark = pytest.mark.django_db

POLICY = {"name": "Fast lane", "first_response_minutes": "15", "resolution_minutes": "240", "warn_percent": "75",
          "min_priority": "", "channel": "", "category": "", "next_response_minutes": "", "calendar": ""}
CALENDAR = {"name": "Shop hours", "country": "BR", "subdivision": "sp", "extra_holidays": "2026-12-24\n2026-12-31",
            "day0": "08:00-12:00, 14:00-18:00", "day1": "08:00-12:00,14:00-18:00", "day2": "8:00-18:00",
            "day3": "08:00-18:00", "day4": "22:00-06:00", "day5": "", "day6": ""}


def test_only_tenant_admins_reach_the_pages(kit_a):
    for member in (kit_a.agent, kit_a.supervisor):
        assert login(member).get("/t/acme/sla/settings/").status_code == 403
        assert login(member).post("/t/acme/sla/settings/", POLICY).status_code == 403
    assert not SLAPolicy.objects.filter(tenant=kit_a.tenant).exists()
    page = login(kit_a.admin).get("/t/acme/sla/settings/")
    assert page.status_code == 200 and 'id="sla-policy-form"' in page.content.decode()


def test_a_new_policy_gives_new_cases_its_due_times(kit_a):
    admin = login(kit_a.admin)
    response = admin.post("/t/acme/sla/settings/", {**POLICY, "channel": kit_a.channel.pk})
    assert response.status_code == 302
    policy = SLAPolicy.objects.get(tenant=kit_a.tenant, name="Fast lane")
    assert "Fast lane" in admin.get("/t/acme/sla/settings/").content.decode()
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=3))
    assert case.first_response_due == case.first_message_at + timedelta(minutes=15)
    assert case.resolution_due == case.first_message_at + timedelta(minutes=240)
    assert CaseClock.objects.get(tenant=kit_a.tenant, case=case).policy == policy
    html = admin.get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert "Policy: Fast lane (15 min to answer" in html


def test_the_admins_order_decides_and_the_default_stays_last(kit_a):
    admin = login(kit_a.admin)
    admin.post("/t/acme/sla/settings/", {**POLICY, "name": "Slow", "first_response_minutes": "90"})
    admin.post("/t/acme/sla/settings/", {**POLICY, "name": "Quick", "first_response_minutes": "10"})
    quick = SLAPolicy.objects.get(tenant=kit_a.tenant, name="Quick")
    first = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=1), author_id="61", handle="one")
    assert first.first_response_due == first.first_message_at + timedelta(minutes=90)  # "Slow" is tried first
    assert admin.post(f"/t/acme/sla/settings/policies/{quick.pk}/move/", {"direction": "up"}).status_code == 302
    second = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=1), author_id="62", handle="two")
    assert second.first_response_due == second.first_message_at + timedelta(minutes=10)
    first.refresh_from_db()
    assert first.first_response_due == first.first_message_at + timedelta(minutes=90)  # open cases keep theirs

    default = SLAPolicy.objects.create(tenant=kit_a.tenant, name="Default", is_default=True, position=1_000_000)
    response = admin.post(f"/t/acme/sla/settings/policies/{default.pk}/delete/", follow=True)
    assert "cannot be deleted" in response.content.decode()
    assert SLAPolicy.objects.filter(pk=default.pk).exists()
    assert admin.post(f"/t/acme/sla/settings/policies/{quick.pk}/delete/").status_code == 302
    assert not SLAPolicy.objects.filter(pk=quick.pk).exists()
    # Editing the default never adds conditions to it.
    page = admin.get(f"/t/acme/sla/settings/policies/{default.pk}/").content.decode()
    assert 'name="channel"' not in page and 'name="first_response_minutes"' in page


@pytest.mark.parametrize("change, message", [
    ({"first_response_minutes": "0"}, "greater than or equal to 1"),
    ({"first_response_minutes": "soon"}, "Enter a whole number"),
    ({"resolution_minutes": "-5"}, "greater than or equal to"),
    ({"warn_percent": "150"}, "Between 1 and 99"),
    ({"min_priority": "101"}, "Between 0 and 100"),
    ({"name": ""}, "This field is required"),
])
def test_bad_policy_input_is_shown_and_nothing_is_saved(kit_a, change, message):
    response = login(kit_a.admin).post("/t/acme/sla/settings/", {**POLICY, **change})
    assert response.status_code == 400 and message in response.content.decode()
    assert not SLAPolicy.objects.filter(tenant=kit_a.tenant).exists()


def test_a_policy_cannot_point_at_another_tenants_channel_or_calendar(kit_a, kit_b):
    theirs = BusinessCalendar.objects.create(tenant=kit_a.tenant, name="A hours", windows={"0": [["08:00", "18:00"]]})
    b = login(kit_b.admin)
    for change in ({"channel": kit_a.channel.pk}, {"calendar": theirs.pk}):
        response = b.post("/t/beta/sla/settings/", {**POLICY, **change})
        assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not SLAPolicy.objects.filter(tenant=kit_b.tenant).exists()
    assert "A hours" not in b.get("/t/beta/sla/settings/").content.decode()


def test_business_hours_with_split_shifts_night_shift_and_holidays(kit_a):
    admin = login(kit_a.admin)
    assert admin.post("/t/acme/sla/settings/calendars/new/", CALENDAR).status_code == 302
    calendar = BusinessCalendar.objects.get(tenant=kit_a.tenant, name="Shop hours")
    assert calendar.windows == {"0": [["08:00", "12:00"], ["14:00", "18:00"]],
                                "1": [["08:00", "12:00"], ["14:00", "18:00"]], "2": [["08:00", "18:00"]],
                                "3": [["08:00", "18:00"]], "4": [["22:00", "06:00"]]}
    assert (calendar.country, calendar.subdivision) == ("BR", "SP")
    assert calendar.extra_holidays == ["2026-12-24", "2026-12-31"]
    page = admin.get("/t/acme/sla/settings/").content.decode()
    assert "Shop hours" in page and "Fri 22:00–06:00" in page

    admin.post("/t/acme/sla/settings/", {**POLICY, "name": "Business", "calendar": calendar.pk})
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=2))
    hours = Hours.from_config(tz=kit_a.tenant.time_zone, windows=calendar.windows, country="BR", subdivision="SP",
                              extra_holidays=calendar.extra_holidays)
    assert case.first_response_due == hours.add(case.first_message_at, 15)

    # In use: it cannot be deleted from under the policy.
    response = admin.post(f"/t/acme/sla/settings/calendars/{calendar.pk}/delete/", follow=True)
    assert "Policies use this calendar: Business" in response.content.decode()
    assert BusinessCalendar.objects.filter(pk=calendar.pk).exists()


@pytest.mark.parametrize("change, message", [
    ({"day0": "25:00-26:00"}, "is not a window like 08:00-12:00"),
    ({"day0": "8 to 12"}, "is not a window like 08:00-12:00"),
    ({"day0": "09:00-09:00"}, "start and end are the same time"),
    ({"subdivision": "ZZ"}, "Not a state or region of BR"),
    ({"country": "", "subdivision": "SP"}, "Pick the country first"),
    ({"extra_holidays": "next friday"}, "is not a date like 2026-12-24"),
    ({f"day{d}": "" for d in range(7)}, "Give at least one working window"),
])
def test_bad_calendar_input_is_shown_and_nothing_is_saved(kit_a, change, message):
    response = login(kit_a.admin).post("/t/acme/sla/settings/calendars/new/", {**CALENDAR, **change})
    assert response.status_code == 400 and message in response.content.decode(), response.content.decode()[-3000:]
    assert not BusinessCalendar.objects.filter(tenant=kit_a.tenant).exists()
