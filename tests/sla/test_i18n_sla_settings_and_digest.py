"""The SLA policy and business-hours pages and the SLA e-mail digest in each reader's language: a pt-BR brand's
admin reads Portuguese (labels, hints, validation errors, messages), an English brand's reads English; the digest
is written in the recipient brand's locale."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import TestCase

from sla.models import BusinessCalendar, SLAPolicy
from sla.services import sla_digest_send, sla_sweep
from tests.conftest import login
from tests.factories import open_case

pytestmark = pytest.mark.django_db

POLICY = {"name": "Rápida", "first_response_minutes": "15", "resolution_minutes": "240", "warn_percent": "75",
          "min_priority": "", "channel": "", "category": "", "next_response_minutes": "", "calendar": ""}
CALENDAR = {"name": "Loja", "country": "BR", "subdivision": "SP", "extra_holidays": "2026-12-24",
            "day0": "08:00-18:00", "day1": "", "day2": "", "day3": "", "day4": "22:00-06:00", "day5": "", "day6": ""}


def _portuguese(kit) -> None:
    kit.tenant.locale = "pt-br"
    kit.tenant.save(update_fields=["locale"])


def test_a_pt_br_admin_manages_policies_in_portuguese(kit_a):
    _portuguese(kit_a)
    admin = login(kit_a.admin)
    page = admin.get("/t/acme/sla/settings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for text in ("Políticas de SLA", "Nova política", "Adicionar política", "Prioridade mínima",
                 "Primeira resposta (minutos)", "qualquer canal", "qualquer categoria", "horas corridas (24/7)",
                 "Quase estouro em (% da meta)", '<option value="complaint">reclamação</option>', "Novo calendário",
                 "Nenhum calendário comercial"):
        assert text in page, text
    assert "New policy" not in page and "Priority at least" not in page

    refused = admin.post("/t/acme/sla/settings/", {**POLICY, "warn_percent": "150", "first_response_minutes": "0"})
    body = refused.content.decode()
    assert refused.status_code == 400
    assert "A política não foi salva: veja os campos marcados." in body and "Entre 1 e 99." in body
    assert "maior ou igual a 1" in body  # Django's own validator message, in Portuguese too
    assert not SLAPolicy.objects.filter(tenant=kit_a.tenant).exists()

    saved = admin.post("/t/acme/sla/settings/", {**POLICY, "category": "complaint"}, follow=True).content.decode()
    assert "Política “Rápida” adicionada: vale para os casos abertos a partir de agora." in saved
    assert "categoria reclamação" in saved
    assert SLAPolicy.objects.get(tenant=kit_a.tenant, name="Rápida").category == "complaint"
    default = SLAPolicy.objects.create(tenant=kit_a.tenant, name="Padrão", is_default=True, position=1_000_000)
    kept = admin.post(f"/t/acme/sla/settings/policies/{default.pk}/delete/", follow=True).content.decode()
    assert "A política padrão não pode ser apagada: edite as metas dela." in kept
    edit = admin.get(f"/t/acme/sla/settings/policies/{default.pk}/").content.decode()
    assert "Política “Padrão”" in edit and "(padrão)" in edit and "Salvar" in edit


def test_a_pt_br_admin_sets_business_hours_in_portuguese(kit_a):
    _portuguese(kit_a)
    admin = login(kit_a.admin)
    page = admin.get("/t/acme/sla/settings/calendars/new/").content.decode()
    for text in ("Novo horário comercial", "Intervalos por dia da semana", "Segunda-feira", "Sábado",
                 "Feriados nacionais", "Estado / região", "Folgas da empresa", 'placeholder="fechado"', "Brasil"):
        assert text in page, text

    bad = admin.post("/t/acme/sla/settings/calendars/new/",
                     {**CALENDAR, "day0": "8 às 12", "extra_holidays": "sexta que vem"})
    body = bad.content.decode()
    assert bad.status_code == 400
    assert "O calendário não foi salvo: veja os campos marcados." in body
    assert "&#x27;8 às 12&#x27; não é um intervalo como 08:00-12:00." in body
    assert "Linha 1: &#x27;sexta que vem&#x27; não é uma data como 2026-12-24." in body
    no_country = admin.post("/t/acme/sla/settings/calendars/new/", {**CALENDAR, "country": ""}).content.decode()
    assert "Escolha o país primeiro." in no_country
    unknown = admin.post("/t/acme/sla/settings/calendars/new/", {**CALENDAR, "subdivision": "ZZ"}).content.decode()
    assert "Não é um estado ou região de BR:" in unknown
    assert not BusinessCalendar.objects.filter(tenant=kit_a.tenant).exists()

    saved = admin.post("/t/acme/sla/settings/calendars/new/", CALENDAR, follow=True).content.decode()
    assert "Horário comercial “Loja” salvo." in saved
    assert "Seg 08:00–18:00" in saved and "Sex 22:00–06:00" in saved and "+ 1 folga" in saved
    calendar = BusinessCalendar.objects.get(tenant=kit_a.tenant, name="Loja")
    admin.post("/t/acme/sla/settings/", {**POLICY, "calendar": calendar.pk})
    in_use = admin.post(f"/t/acme/sla/settings/calendars/{calendar.pk}/delete/", follow=True).content.decode()
    assert "Políticas usam este calendário: Rápida. Altere-as primeiro." in in_use
    assert "comercial: Loja" in in_use


def test_an_english_brand_keeps_english_sla_settings(kit_a):
    admin = login(kit_a.admin)
    page = admin.get("/t/acme/sla/settings/", HTTP_ACCEPT_LANGUAGE="pt-BR").content.decode()
    assert "New policy" in page and "Priority at least" in page and "Nova política" not in page
    bad = admin.post("/t/acme/sla/settings/calendars/new/", {**CALENDAR, "day0": "8 to 12"},
                     HTTP_ACCEPT_LANGUAGE="pt-BR").content.decode()
    assert "&#x27;8 to 12&#x27; is not a window like 08:00-12:00." in bad and "New business hours" in bad
    assert "Monday" in bad and "Segunda-feira" not in bad


def test_the_users_own_pick_outranks_the_brands_locale(kit_a):
    _portuguese(kit_a)
    admin = login(kit_a.admin)
    admin.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    page = admin.get("/t/acme/sla/settings/").content.decode()
    assert "New policy" in page and "Nova política" not in page


def _breach_and_digest(*kits) -> None:
    for n, kit in enumerate(kits):
        kit.supervisor.user.email = f"sup@{kit.tenant.slug}.test"
        kit.supervisor.user.save(update_fields=["email"])
        for m in range(2):
            open_case(kit, posted_at=datetime.now(UTC) - timedelta(hours=2), author_id=f"8{n}{m}", handle=f"c{n}{m}")
    sla_sweep()
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        sla_digest_send()


def test_the_digest_speaks_each_supervisors_brand_language(kit_a, kit_b):
    _portuguese(kit_a)
    _breach_and_digest(kit_a, kit_b)
    to_a = [m for m in mail.outbox if m.to == ["sup@acme.test"]]
    to_b = [m for m in mail.outbox if m.to == ["sup@beta.test"]]
    assert len(to_a) == 1 and len(to_b) == 1
    assert to_a[0].subject == "SAC: 2 alertas de SLA"
    assert to_a[0].body.startswith("Alertas de SLA desde o último resumo:")
    assert "Primeira resposta: estourado (prazo " in to_a[0].body
    assert "SLA alerts" not in to_a[0].body + to_a[0].subject
    assert to_b[0].subject == "SAC: 2 SLA alerts"
    assert to_b[0].body.startswith("SLA alerts since the last digest:")
    assert "First response: breached (due " in to_b[0].body
    assert "Primeira resposta" not in to_b[0].body


def test_the_dashboard_periods_and_priority_bands_follow_the_brand_language(kit_a):
    open_case(kit_a, "Três dias sem internet, absurdo!")
    _portuguese(kit_a)
    page = login(kit_a.supervisor).get("/t/acme/sla/").content.decode()
    for text in (">Hoje</a>", ">7 dias</a>", ">30 dias</a>", "<th>urgente</th>", "<th>baixa</th>"):
        assert text in page, text
    kit_a.tenant.locale = "en"
    kit_a.tenant.save(update_fields=["locale"])
    page = login(kit_a.supervisor).get("/t/acme/sla/").content.decode()
    assert ">Today</a>" in page and "<th>urgent</th>" in page
