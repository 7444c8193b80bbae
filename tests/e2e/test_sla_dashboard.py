"""A supervisor watches the shift on the SLA dashboard and moves a breaching case to a colleague in one click."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from playwright.sync_api import expect

from inbox.models import Case
from sla.models import SLAPolicy
from sla.services import case_answered, case_resolution_record, sla_sweep
from tests.factories import open_case

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXTS = [
    "A internet caiu de novo, não funciona nada!",
    "Fui cobrado duas vezes na fatura deste mês, quero estorno",
    "Três dias sem sinal, vou no Procon! Absurdo!",
    "Meu pedido de portabilidade está parado há uma semana, ninguém responde",
    "O técnico não apareceu na visita agendada, péssimo atendimento",
    "Quero cancelar, a internet não funciona e a velocidade é metade do contratado!",
]


def test_a_supervisor_watches_the_shift_and_reassigns_a_breach(live_server, page, kit_a, tmp_path):
    SLAPolicy.objects.create(tenant=kit_a.tenant, name="Padrão", is_default=True, first_response_minutes=60,
                             resolution_minutes=8 * 60)
    rng = random.Random(6)
    now = datetime.now(UTC)
    n = 0
    for day in range(6, -1, -1):
        for _ in range(rng.randint(3, 7) if day else 2):
            n += 1
            posted = now - timedelta(days=day, minutes=rng.randint(90, 600))
            case = open_case(kit_a, TEXTS[n % len(TEXTS)], posted_at=posted, author_id=f"7{n}", handle=f"cliente{n}")
            if day:  # the earlier days were answered and solved
                Case.objects.filter(pk=case.pk).update(
                    status="resolved", first_response_at=posted + timedelta(minutes=rng.randint(5, 140)),
                    resolved_at=posted + timedelta(minutes=rng.randint(150, 900)))
                case.refresh_from_db()
                with transaction.atomic():  # what the case events would have recorded
                    case_answered(case=case, at=case.first_response_at)
                    case_resolution_record(case=case, at=case.resolved_at)
    late = open_case(kit_a, TEXTS[2], posted_at=now - timedelta(minutes=95), author_id="999", handle="ritaf")
    open_case(kit_a, TEXTS[0], posted_at=now - timedelta(minutes=52), author_id="998", handle="joaom")
    Case.objects.filter(pk=late.pk).update(assignee=kit_a.agent.user, status="open")
    sla_sweep()

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "acme-supervisor")
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/t/acme/sla/?period=7d")
    expect(page.locator("h1")).to_have_text("SLA dashboard")
    row = page.locator("#at-risk tr", has_text=late.protocol)
    expect(row).to_contain_text("late")
    expect(page.locator("#sla-period")).to_contain_text("Cases in period")
    # The page renders whole (the README's screenshot comes from the demo: scripts/screenshots.py).
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    row.locator("select[name=to_member]").select_option(label="acme-agent2")
    row.locator("button", has_text="Move").click()
    expect(page.locator("#at-risk tr", has_text=late.protocol).locator("td.assignee")).to_have_text("acme-agent2")
    late.refresh_from_db()
    assert late.assignee == kit_a.agent2.user

