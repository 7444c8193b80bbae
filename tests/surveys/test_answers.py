"""The public page /s/<token>: no login, the customer's language, one answer per link, friendly errors."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from inbox.models import Case
from sac.models import Team
from sac.services import api_token_create
from surveys.models import FollowUp, SurveyInvitation, SurveyResponse
from surveys.selectors import period, survey_metrics, survey_metrics_by
from tests.factories import open_case

from .conftest import resolve, sent_tokens

pytestmark = pytest.mark.django_db


def _surveyed(kit, django_capture_on_commit_callbacks, text: str | None = None, **kwargs):
    case = open_case(kit, text, **kwargs) if text else open_case(kit, **kwargs)
    with django_capture_on_commit_callbacks(execute=True):
        resolve(kit, case)
    return case, sent_tokens(kit.simulator)[-1]


def test_the_customer_answers_once_without_logging_in(kit_a, surveys_a, django_capture_on_commit_callbacks):
    case, token = _surveyed(kit_a, django_capture_on_commit_callbacks)
    client = Client()
    page = client.get(f"/s/{token}")
    assert page.status_code == 200
    assert "De 1 a 5" in page.content.decode() and case.protocol in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        answered = client.post(f"/s/{token}", {"csat": "5", "nps": "10", "comment": "Rápido e gentil"})
    assert answered.status_code == 200 and "Obrigado" in answered.content.decode()
    again = client.post(f"/s/{token}", {"csat": "1", "nps": "0"})
    assert "já foi respondida" in again.content.decode()
    assert "já foi respondida" in client.get(f"/s/{token}").content.decode()
    response = SurveyResponse.objects.get(tenant=kit_a.tenant)
    assert (response.csat, response.nps, response.comment, response.case) == (5, 10, "Rápido e gentil", case)
    assert not FollowUp.objects.exists()


def test_english_customers_get_the_english_page(kit_a, surveys_a, django_capture_on_commit_callbacks):
    _, token = _surveyed(kit_a, django_capture_on_commit_callbacks,
                         "@acme my internet has been down for three days, this is unacceptable!")
    assert "From 1 to 5" in Client().get(f"/s/{token}").content.decode()
    assert "Hi " in kit_a.simulator.sent[-1]["text"]


def test_unknown_garbled_and_expired_links_get_friendly_pages(kit_a, surveys_a, django_capture_on_commit_callbacks):
    case, token = _surveyed(kit_a, django_capture_on_commit_callbacks)
    client = Client()
    for bad in ("nope", token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 300, "%00", "../../etc"):
        page = client.get(f"/s/{bad}")
        assert page.status_code == 404 and "não é válido" in page.content.decode()
        assert client.post(f"/s/{bad}", {"csat": "5"}).status_code == 404
    SurveyInvitation.objects.filter(case=case).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/s/{token}").status_code == 410
    assert client.post(f"/s/{token}", {"csat": "5", "nps": "9"}).status_code == 410
    assert not SurveyResponse.objects.exists()


def test_an_incomplete_or_out_of_range_answer_shows_the_form_again(kit_a, surveys_a,
                                                                   django_capture_on_commit_callbacks):
    _, token = _surveyed(kit_a, django_capture_on_commit_callbacks)
    client = Client()
    for data in ({"csat": "5"}, {"csat": "9", "nps": "3"}, {"csat": "abc", "nps": "-1"}, {}):
        page = client.post(f"/s/{token}", data)
        assert page.status_code == 400 and "responda a todas" in page.content.decode()
    assert not SurveyResponse.objects.exists()


def test_a_low_score_opens_a_follow_up_for_the_supervisors(kit_a, surveys_a, django_capture_on_commit_callbacks):
    case, token = _surveyed(kit_a, django_capture_on_commit_callbacks)
    page = Client().post(f"/s/{token}", {"csat": "2", "nps": "8", "comment": "Demorou demais"})
    assert "supervisor" in page.content.decode()
    followup = FollowUp.objects.get(tenant=kit_a.tenant)
    assert followup.case == case and followup.status == "open"
    dashboard = Client()
    dashboard.force_login(kit_a.supervisor.user)
    html = dashboard.get("/t/acme/surveys/").content.decode()
    assert case.protocol in html and "Demorou demais" in html
    other_team = Team.objects.create(tenant=kit_a.tenant, name="Cobrança")
    Case.objects.filter(pk=case.pk).update(team=other_team)
    FollowUp.objects.filter(pk=followup.pk).update(team=other_team)
    assert case.protocol not in dashboard.get("/t/acme/surveys/", {"mine": "1"}).content.decode()
    dashboard.post(f"/t/acme/surveys/followups/{followup.pk}/close/", {"outcome": "Liguei, resolvido"})
    followup.refresh_from_db()
    assert followup.status == "done" and followup.closed_by == kit_a.supervisor.user


def test_an_nps_detractor_alone_opens_a_follow_up(kit_a, surveys_a, django_capture_on_commit_callbacks):
    _, token = _surveyed(kit_a, django_capture_on_commit_callbacks)
    Client().post(f"/s/{token}", {"csat": "4", "nps": "6"})
    assert FollowUp.objects.filter(tenant=kit_a.tenant).count() == 1


def test_metrics_follow_the_definitions(kit_a, surveys_a, django_capture_on_commit_callbacks):
    answers = [(5, 10), (4, 9), (2, 3), (5, 7)]
    for i, (csat, nps) in enumerate(answers):
        _, token = _surveyed(kit_a, django_capture_on_commit_callbacks, author_id=f"90{i}", handle=f"c{i}")
        Client().post(f"/s/{token}", {"csat": str(csat), "nps": str(nps)})
    _surveyed(kit_a, django_capture_on_commit_callbacks, author_id="999", handle="quiet")  # never answers
    m = survey_metrics(kit_a.tenant, period(30))
    assert (m.invitations_sent, m.answers) == (5, 4)
    assert m.csat_pct == 75.0  # 3 of 4 answered 4–5
    assert m.nps == 25.0  # 2 promoters − 1 detractor of 4
    assert m.response_rate == 80.0
    by_channel = survey_metrics_by(kit_a.tenant, period(30), "channel")
    assert [(r.label, r.invitations_sent, r.answers) for r in by_channel] == [(kit_a.channel.name, 5, 4)]
    assert survey_metrics(kit_a.tenant, period(30, now=timezone.now() - timedelta(days=40))).answers == 0


def test_metrics_narrow_by_agent_and_category_on_the_page_and_the_api(kit_a, surveys_a,
                                                                     django_capture_on_commit_callbacks):
    first, token1 = _surveyed(kit_a, django_capture_on_commit_callbacks, author_id="801", handle="f1")
    Client().post(f"/s/{token1}", {"csat": "5", "nps": "10"})
    second, token2 = _surveyed(kit_a, django_capture_on_commit_callbacks, author_id="802", handle="f2")
    Client().post(f"/s/{token2}", {"csat": "1", "nps": "0"})
    Case.objects.filter(pk=first.pk).update(assignee=kit_a.agent.user, category="billing")
    Case.objects.filter(pk=second.pk).update(assignee=kit_a.agent2.user, category="outage")
    sup = Client()
    sup.force_login(kit_a.supervisor.user)
    mine = sup.get("/t/acme/surveys/", {"agent": kit_a.agent.user.pk}).context["metrics"]
    assert (mine.answers, mine.csat_pct, mine.nps) == (1, 100.0, 100.0)
    outage = sup.get("/t/acme/surveys/", {"category": "outage", "by": "agent"})
    assert outage.context["metrics"].csat_pct == 0.0
    assert [r.label for r in outage.context["breakdown"]] == [kit_a.agent2.user.username]
    _, api_token = api_token_create(membership=kit_a.supervisor, name="m")
    api = Client().get("/api/v1/survey-responses/metrics/", {"category": "billing", "days": "7"},
                       HTTP_AUTHORIZATION=f"Bearer {api_token}").json()
    assert (api["answers"], api["csat_pct"], api["days"]) == (1, 100.0, 7)

