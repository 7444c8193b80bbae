"""The survey settings and contact-centre pages in the brand's language (pt-BR brand → Portuguese, English
brand → English), with their messages and errors."""

import pytest
from django.urls import reverse

from surveys.models import DeflectionDay, SurveyConfig
from tests.conftest import login

pytestmark = pytest.mark.django_db


def _portuguese(kit) -> None:
    kit.tenant.locale = "pt-br"
    kit.tenant.save(update_fields=["locale"])


def test_a_pt_br_admin_edits_the_survey_settings_in_portuguese(kit_a, surveys_a):
    _portuguese(kit_a)
    admin = login(kit_a.admin)
    url = reverse("surveys:settings", args=["acme"])
    page = admin.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in ("Configurações das pesquisas", "Os convites vão em privado", "Perguntar CSAT (1–5)",
                 "Convite (português)", "Intervalo sem pesquisa (dias)", "Custo por ligação", "Voltar às pesquisas"):
        assert text in page, text
    assert "Survey settings" not in page and "Ask csat" not in page

    data = {field: getattr(surveys_a, field) for field in ("invitation_pt", "invitation_en", "csat_question_pt",
                                                           "csat_question_en", "nps_question_pt", "nps_question_en",
                                                           "delay_minutes", "quiet_days", "expiry_days", "currency",
                                                           "cost_per_call", "cost_per_social")}
    refused = admin.post(url, {**data, "enabled": "on", "ask_csat": "on", "invitation_pt": "Oi {name}!"})
    assert refused.status_code == 400
    assert "O texto do convite deve conter {link}" in refused.content.decode()
    saved = admin.post(url, {**data, "enabled": "on", "ask_nps": "on"}, follow=True).content.decode()
    assert "Configurações das pesquisas salvas." in saved
    assert SurveyConfig.objects.get(tenant=kit_a.tenant).ask_csat is False


def test_a_pt_br_admin_imports_call_figures_and_reads_the_errors_in_portuguese(kit_a, surveys_a):
    _portuguese(kit_a)
    admin = login(kit_a.admin)
    url = reverse("surveys:deflection", args=["acme"])
    page = admin.get(url).content.decode()
    for text in ("Números da central de atendimento", "Uma linha por dia", "Últimos 60 dias", "Ligações",
                 "Nada importado ainda.", "Importar"):
        assert text in page, text

    bad = admin.post(url, {"text": "date,calls,site_visits\n2026-11-20,1830,45210\nontem,10,10\n2026-11-19,-5,0\n"})
    body = bad.content.decode()
    assert bad.status_code == 400
    assert "linha 3: &#x27;ontem&#x27; não é uma data (AAAA-MM-DD)" in body and "linha 4: -5 é negativo" in body
    assert "1 dia(s) importado(s), 2 linha(s) ignorada(s)." in body
    assert DeflectionDay.objects.filter(tenant=kit_a.tenant).count() == 1
    missing = admin.post(url, {"text": "day,calls\n2026-11-20,3\n"}).content.decode()
    assert "O CSV precisa das colunas date, calls, site_visits; faltam: date, site_visits." in missing


def test_the_survey_dashboard_names_its_breakdowns_in_portuguese(kit_a, surveys_a):
    _portuguese(kit_a)
    page = login(kit_a.supervisor).get(reverse("surveys:dashboard", args=["acme"]), {"by": "team"}).content.decode()
    assert '<th>equipe</th>' in page and ">canal</a>" in page and ">agente</a>" in page


def test_an_english_brand_keeps_english_survey_pages(kit_a, surveys_a):
    admin = login(kit_a.admin)
    page = admin.get(reverse("surveys:settings", args=["acme"]), HTTP_ACCEPT_LANGUAGE="pt-BR").content.decode()
    assert "Survey settings" in page and "Ask CSAT (1–5)" in page and "Configurações das pesquisas" not in page
    bad = admin.post(reverse("surveys:deflection", args=["acme"]), {"text": "date,calls,site_visits\nontem,1,1\n"},
                     HTTP_ACCEPT_LANGUAGE="pt-BR").content.decode()
    assert "line 2: &#x27;ontem&#x27; is not a date (YYYY-MM-DD)" in bad and "Contact-centre figures" in bad
