"""Deflection figures (CSV and API) and the cost saved; tenant B never sees or touches tenant A's surveys."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from sac.services import api_token_create
from surveys.models import DeflectionDay, FollowUp, SurveyConfig, SurveyResponse
from surveys.selectors import deflection
from tests.conftest import login
from tests.factories import open_case

from .conftest import resolve, sent_tokens

pytestmark = pytest.mark.django_db


def test_an_admin_imports_daily_calls_by_csv_and_bad_lines_are_reported(kit_a, surveys_a):
    today = timezone.localdate()
    csv_text = (f"date,calls,site_visits\n{today},1800,40000\n{today - timedelta(days=1)},1700,\n"
                "yesterday,10,10\n2026-01-01,-5,0\n")
    client = login(kit_a.admin)
    page = client.post("/t/acme/surveys/deflection/", {"file": SimpleUploadedFile("calls.csv", csv_text.encode())})
    assert page.status_code == 400  # shown with the errors, the good lines kept
    body = page.content.decode()
    assert "line 4" in body and "line 5" in body
    assert DeflectionDay.objects.filter(tenant=kit_a.tenant).count() == 2
    # Importing a day again replaces it.
    client.post("/t/acme/surveys/deflection/", {"text": f"date,calls,site_visits\n{today},1900,41000\n"})
    assert DeflectionDay.objects.get(tenant=kit_a.tenant, day=today).calls == 1900
    assert login(kit_a.supervisor).post("/t/acme/surveys/deflection/", {"text": "x"}).status_code == 403


def test_cost_saved_uses_the_admins_figures(kit_a, surveys_a):
    SurveyConfig.objects.filter(pk=surveys_a.pk).update(cost_per_call=Decimal("60.00"),
                                                        cost_per_social=Decimal("4.50"), currency="BRL")
    for i in range(3):
        resolve(kit_a, open_case(kit_a, author_id=f"5{i}", handle=f"d{i}"))
    today = timezone.localdate()
    DeflectionDay.objects.create(tenant=kit_a.tenant, day=today, calls=97, site_visits=1000)
    d = deflection(kit_a.tenant, today - timedelta(days=6), today)
    assert (d.social_resolved, d.calls, d.site_visits) == (3, 97, 1000)
    assert d.cost_saved == Decimal("166.50") and d.social_share == 3.0
    html = login(kit_a.supervisor).get("/t/acme/surveys/?days=7").content.decode()
    assert "BRL 166.50" in html


def test_the_api_takes_days_from_admins_only_and_lists_them_per_tenant(kit_a, kit_b):
    _, admin_token = api_token_create(membership=kit_a.admin, name="cc")
    _, agent_token = api_token_create(membership=kit_a.agent, name="cc")
    _, b_token = api_token_create(membership=kit_b.admin, name="cc")
    payload = [{"day": "2026-11-20", "calls": 1830, "site_visits": 45210}, {"day": "2026-11-21", "calls": 1700,
                                                                             "site_visits": 40000}]
    client = Client()
    created = client.post("/api/v1/deflection-days/", payload, content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert created.status_code == 201 and created.json() == {"saved": 2}
    refused = client.post("/api/v1/deflection-days/", payload, content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {agent_token}")
    assert refused.status_code == 403
    bad = client.post("/api/v1/deflection-days/", {"day": "soon", "calls": -1}, content_type="application/json",
                      HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert bad.status_code == 400 and "day" in bad.json()
    listed = client.get("/api/v1/deflection-days/", HTTP_AUTHORIZATION=f"Bearer {admin_token}").json()
    assert [d["day"] for d in listed["results"]] == ["2026-11-21", "2026-11-20"]
    assert client.get("/api/v1/deflection-days/", HTTP_AUTHORIZATION=f"Bearer {b_token}").json()["results"] == []
    assert DeflectionDay.objects.filter(tenant=kit_b.tenant).count() == 0
    assert DeflectionDay.objects.get(tenant=kit_a.tenant, day=date(2026, 11, 20)).calls == 1830


def test_tenant_b_never_sees_or_closes_tenant_as_surveys(kit_a, kit_b, surveys_a, django_capture_on_commit_callbacks):
    case = open_case(kit_a)
    with django_capture_on_commit_callbacks(execute=True):
        resolve(kit_a, case)
    Client().post(f"/s/{sent_tokens(kit_a.simulator)[0]}", {"csat": "1", "nps": "0", "comment": "secret A"})
    followup = FollowUp.objects.get(tenant=kit_a.tenant)
    b = login(kit_b.admin)
    assert b.get("/t/acme/surveys/").status_code == 404
    assert b.post(f"/t/beta/surveys/followups/{followup.pk}/close/", {"outcome": "x"}).status_code == 404
    own = b.get("/t/beta/surveys/").content.decode()
    assert "secret A" not in own and case.protocol not in own
    followup.refresh_from_db()
    assert followup.status == "open"
    _, b_token = api_token_create(membership=kit_b.admin, name="b")
    response = SurveyResponse.objects.get(tenant=kit_a.tenant)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {b_token}"}
    assert Client().get(f"/api/v1/survey-responses/{response.pk}/", **auth).status_code == 404
    metrics = Client().get("/api/v1/survey-responses/metrics/", **auth).json()
    assert metrics["answers"] == 0 and metrics["invitations_sent"] == 0
    _, a_token = api_token_create(membership=kit_a.supervisor, name="a")
    a_metrics = Client().get("/api/v1/survey-responses/metrics/", HTTP_AUTHORIZATION=f"Bearer {a_token}").json()
    assert (a_metrics["answers"], a_metrics["csat_pct"], a_metrics["nps"]) == (1, 0.0, -100.0)


def test_agents_do_not_get_the_supervisors_survey_page(kit_a):
    assert login(kit_a.agent).get("/t/acme/surveys/").status_code == 403
    assert login(kit_a.supervisor).get("/t/acme/surveys/settings/").status_code == 403


def test_an_admin_edits_the_wording_and_it_must_keep_the_link(kit_a, surveys_a):
    client = login(kit_a.admin)
    form = client.get("/t/acme/surveys/settings/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and k != "id" and k != "tenant"}
    data.update(invitation_pt="Oi {name}, responde aí: {link}", ask_csat="on", ask_nps="", enabled="on")
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    assert client.post("/t/acme/surveys/settings/", data).status_code == 302
    surveys_a.refresh_from_db()
    assert surveys_a.invitation_pt == "Oi {name}, responde aí: {link}" and not surveys_a.ask_nps
    data["invitation_pt"] = "Oi sem link"
    page = client.post("/t/acme/surveys/settings/", data)
    assert page.status_code == 400 and "{link}" in page.content.decode()
