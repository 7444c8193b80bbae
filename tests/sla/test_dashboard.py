from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from sla.services import sla_sweep
from tests.conftest import login
from tests.factories import open_case

pytestmark = pytest.mark.django_db


def test_agents_get_403_and_supervisors_see_the_dashboard(kit_a):
    assert login(kit_a.agent).get("/t/acme/sla/").status_code == 403
    assert login(kit_a.agent).get("/t/acme/sla/now/").status_code == 403
    late = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=3))
    page = login(kit_a.supervisor).get("/t/acme/sla/?period=today")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="at-risk"' in html and late.protocol in html and "late" in html
    assert 'hx-trigger="every 15s"' in html


def test_one_click_reassign_moves_a_case_at_risk(kit_a):
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=3))
    response = login(kit_a.supervisor).post("/t/acme/sla/reassign/", {"case": case.pk, "to_member": kit_a.agent2.pk},
                                            HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="at-risk"' in response.content.decode()
    case.refresh_from_db()
    assert case.assignee == kit_a.agent2.user


def test_another_tenants_supervisor_cannot_reassign_or_see_our_cases(kit_a, kit_b):
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=3))
    b = login(kit_b.supervisor)
    assert b.post("/t/acme/sla/reassign/", {"case": case.pk, "to_member": kit_a.agent2.pk}).status_code == 404
    # Through their own brand, with our ids: nothing moves (our member is a 404 there).
    assert b.post("/t/beta/sla/reassign/", {"case": case.pk, "to_member": kit_a.agent2.pk}).status_code == 404
    b.post("/t/beta/sla/reassign/", {"case": case.pk, "to_member": kit_b.agent.pk})
    case.refresh_from_db()
    assert case.assignee is None
    page = b.get("/t/beta/sla/?period=30d").content.decode()
    assert case.protocol not in page
    assert case.protocol not in b.get("/t/beta/sla/export.csv?table=at_risk").content.decode()


def test_period_figures_are_exact_and_filtered_by_the_url(kit_a):
    now = datetime.now(UTC)
    for n, minutes in enumerate((10, 20, 30, 100)):
        case = open_case(kit_a, posted_at=now - timedelta(hours=2), author_id=f"5{n}", handle=f"h{n}")
        from inbox.models import Case
        Case.objects.filter(pk=case.pk).update(first_response_at=case.first_message_at + timedelta(minutes=minutes))
    from sla.selectors import Filters, cases_in_period, period_parse, response_figures
    period = period_parse(kit_a.tenant, "7d")
    figures = response_figures(kit_a.tenant, cases_in_period(kit_a.tenant, period, Filters()))
    assert figures["cases"] == 4 and figures["answered"] == 4
    assert figures["median_min"] == pytest.approx(25.0) and figures["p90_min"] == pytest.approx(79.0)
    assert figures["within_60_share"] == 0.75
    other = Filters(channel_id=kit_a.channel.pk + 999)
    assert response_figures(kit_a.tenant, cases_in_period(kit_a.tenant, period, other))["cases"] == 0
    csv = login(kit_a.supervisor).get("/t/acme/sla/export.csv?table=volume&period=7d").content.decode()
    assert csv.splitlines()[0] == "day,cases" and sum(int(r.split(",")[1]) for r in csv.splitlines()[1:]) == 4


def test_alerts_reach_the_assignee_in_the_product(kit_a):
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=3))
    from inbox.models import Case
    Case.objects.filter(pk=case.pk).update(assignee=kit_a.agent.user)
    sla_sweep()
    client = login(kit_a.agent)
    page = client.get("/t/acme/sla/alerts/").content.decode()
    assert case.protocol in page and "Breached" in page and 'class="unread"' in page
    client.post("/t/acme/sla/alerts/read/")
    assert 'class="unread"' not in client.get("/t/acme/sla/alerts/").content.decode()
    assert case.protocol not in login(kit_a.agent2).get("/t/acme/sla/alerts/").content.decode()


def test_the_case_page_shows_policy_and_met_targets(kit_a):
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(hours=3))
    sla_sweep()
    html = login(kit_a.supervisor).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert 'id="sla-panel"' in html and "missed" in html


def test_the_dashboard_shows_the_survey_panels_registered_by_the_surveys_app(kit_a):
    from django.urls import reverse

    from ..conftest import login

    page = login(kit_a.supervisor).get(reverse("sla:dashboard", args=["acme"]))
    assert page.status_code == 200
    for kpi in (b'id="kpi-csat"', b'id="kpi-nps"', b'id="kpi-rate"', b'id="kpi-deflection"'):
        assert kpi in page.content
