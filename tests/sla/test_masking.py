"""Personal data triage found is masked wherever a case's words are listed, as in the queue (the specification:
"the public view of personal data is masked"): the SLA dashboard's live half and the API's `subject`."""

from datetime import UTC, datetime, timedelta

import pytest

from sac.services import api_token_create
from tests.conftest import login
from tests.factories import open_case

pytestmark = pytest.mark.django_db

CASES = [
    ("meu cpf é 123.456.789-09 e estou sem internet", "123.456.789-09", "cpf"),
    ("me liga no (21) 99876-5432, sem sinal desde ontem", "99876-5432", "phone"),
    ("escrevam para joana.silva@example.com.br, cobrança indevida", "joana.silva@example.com.br", "email"),
]


@pytest.mark.parametrize(("text", "secret", "kind"), CASES, ids=[kind for *_, kind in CASES])
def test_the_dashboards_cases_at_risk_show_personal_data_masked(kit_a, text, secret, kind):
    case = open_case(kit_a, text, posted_at=datetime.now(UTC) - timedelta(hours=3))  # first response overdue
    assert kind in case.personal_data
    page = login(kit_a.supervisor).get("/t/acme/sla/now/").content.decode()
    assert case.protocol in page  # listed as at risk
    assert secret not in page and "••••" in page


def test_the_dashboards_crisis_posts_show_personal_data_masked(kit_a, settings):
    settings.SAC_SLA_CRISIS_MIN, settings.SAC_SLA_CRISIS_FACTOR = 3, 2
    now = datetime.now(UTC)
    for n in range(3):
        open_case(kit_a, f"Absurdo! Péssimo atendimento, sem internet, me liga (21) 99876-543{n}, vou no Procon!",
                  posted_at=now - timedelta(minutes=5 + n), author_id=f"8{n}", handle=f"angry{n}")
    page = login(kit_a.supervisor).get("/t/acme/sla/now/").content.decode()
    assert 'id="crisis"' in page and "angry0" in page
    assert "99876-543" not in page and "Péssimo atendimento" in page


@pytest.mark.parametrize(("text", "secret", "kind"), CASES, ids=[kind for *_, kind in CASES])
def test_the_apis_subject_is_masked(client, kit_a, text, secret, kind):
    case = open_case(kit_a, text)
    _, token = api_token_create(membership=kit_a.agent, name="integration")
    listed = client.get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    one = client.get(f"/api/v1/cases/{case.pk}/", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    (row,) = [r for r in rows if r["id"] == case.pk]
    for subject in (row["subject"], one["subject"]):
        assert secret not in subject and "••••" in subject
        assert len(subject) == len(text[:140])  # masked in place, the rest of the words kept
    assert kind in one["personal_data"]


def test_a_subject_without_personal_data_is_as_written(client, kit_a):
    case = open_case(kit_a, "sem internet desde ontem")
    _, token = api_token_create(membership=kit_a.agent, name="integration")
    one = client.get(f"/api/v1/cases/{case.pk}/", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert one["subject"] == "sem internet desde ontem"


def test_the_sla_digest_email_masks_personal_data(kit_a):
    from django.core import mail
    from django.test import TestCase

    from sla.services import sla_digest_send, sla_sweep

    kit_a.supervisor.user.email = "sup@acme.test"
    kit_a.supervisor.user.save(update_fields=["email"])
    open_case(kit_a, "meu cpf é 123.456.789-09 e estou sem internet", posted_at=datetime.now(UTC) - timedelta(hours=3))
    sla_sweep()
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        sla_digest_send()
    (message,) = mail.outbox
    assert "123.456.789-09" not in message.body and "••••" in message.body and "sem internet" in message.body
