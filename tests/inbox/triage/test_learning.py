"""Ingest uses the tenant's triage; agents' corrections train a per-tenant model; routing rules in the product."""

from django.urls import reverse

from inbox import services, tasks
from inbox.models import Case, PersonalDataPattern, RoutingRule, TriageCategory, TriageCorrection, TriageModelVersion
from inbox.selectors import triage_config_for
from inbox.triage import TriageInput, triage
from sac.models import Team

from ...conftest import login
from ...factories import ingest, mention_item, open_case


def test_ingest_stores_the_decision_with_spans_and_the_queue_masks_them(kit_a):
    case = open_case(kit_a, "@acme sem internet, me liguem no (11) 98765-4321 urgente")
    assert case.personal_data == ["phone"] and case.triage["private_suggested"]
    (span,) = case.triage["spans"]
    assert case.subject[span["start"]:span["end"]] == "(11) 98765-4321"
    page = login(kit_a.supervisor).get(reverse("inbox:queue", args=[kit_a.tenant.slug]) + "?view=all")
    assert b"98765-4321" not in page.content and "me liguem no ••••".encode() in page.content


def test_the_case_page_shows_decisions_and_reasons(kit_a):
    case = open_case(kit_a, "@acme cobrança indevida na fatura, vou no Procon!", followers=50_000)
    page = login(kit_a.agent).get(reverse("inbox:case", args=[kit_a.tenant.slug, case.pk])).content.decode()
    assert 'id="triage-card"' in page and "legal risk: procon" in page and "50000 followers" in page
    assert "Needs an answer" in page and "negative" in page


def test_a_repeat_complainer_gets_a_higher_priority(kit_a):
    kit_a.tenant.reopen_window_days = 0  # so the second complaint opens a case of its own (following the first)
    kit_a.tenant.save(update_fields=["reopen_window_days"])
    first = open_case(kit_a, "sem sinal no centro, absurdo", author_id="77")
    services.case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=first, new_status="resolved")
    second = open_case(kit_a, "sem sinal no centro, absurdo", author_id="77")
    assert second.pk != first.pk and second.follows_id == first.pk
    assert second.priority > first.priority
    assert any("earlier complaint" in r for r in second.triage["reasons"])


def test_routing_rules_route_tag_boost_and_ignore_at_ingest(kit_a, kit_b):
    team = Team.objects.create(tenant=kit_a.tenant, name="Billing")
    RoutingRule.objects.create(tenant=kit_a.tenant, position=0, name="billing", keywords="fatura",
                               team=team, tags="billing, vip", priority_boost=15)
    RoutingRule.objects.create(tenant=kit_a.tenant, position=1, name="no giveaways", keywords="sorteio",
                               auto_ignore=True)
    case = open_case(kit_a, "fatura errada de novo, absurdo", author_id="5")
    assert case.team == team and sorted(t.name for t in case.tags.all()) == ["billing", "vip"]
    assert case.triage["rule"] == "billing"
    result = ingest(kit_a.channel, [mention_item("o sorteio não funciona, como faço?", author_id="6")])
    services.mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=result.stored_ids)
    assert not Case.objects.filter(tenant=kit_a.tenant, case_mentions__mention_id__in=result.stored_ids).exists()
    # Tenant B has no such rules: the same post opens a case there, in no team.
    other = open_case(kit_b, "fatura errada de novo, absurdo", author_id="5")
    assert other.team is None and not other.tags.exists()


def test_an_admin_edits_rules_in_the_product_in_order(kit_a, kit_b):
    client = login(kit_a.admin)
    url = reverse("inbox:routing_rules", args=[kit_a.tenant.slug])
    team_b = Team.objects.create(tenant=kit_b.tenant, name="B team")
    refused = client.post(url, {"name": "steal", "keywords": "x", "team": team_b.pk, "priority_boost": 0})
    assert refused.status_code == 200 and not RoutingRule.objects.filter(name="steal").exists()
    bad = client.post(url, {"name": "bad", "regex": "(", "priority_boost": 0})
    assert b"Not a valid regular expression" in bad.content
    for name in ("first", "second"):
        response = client.post(url, {"name": name, "keywords": name, "priority_boost": 5, "enabled": "on"})
        assert response.status_code == 302
    second = RoutingRule.objects.get(tenant=kit_a.tenant, name="second")
    client.post(reverse("inbox:routing_rule_move", args=[kit_a.tenant.slug, second.pk]), {"direction": "up"})
    assert [r.name for r in RoutingRule.objects.filter(tenant=kit_a.tenant)] == ["second", "first"]
    assert [r.name for r in triage_config_for(kit_a.tenant).rules] == ["second", "first"]
    client.post(reverse("inbox:routing_rule_delete", args=[kit_a.tenant.slug, second.pk]))
    assert [r.name for r in RoutingRule.objects.filter(tenant=kit_a.tenant)] == ["first"]
    assert login(kit_a.agent).get(url).status_code == 403


def test_an_agent_corrects_a_case_and_it_becomes_a_training_example(kit_a, kit_b):
    case = open_case(kit_a, "@acme vcs patrocinam o time de vôlei? quero saber", author_id="9")
    client = login(kit_a.agent)
    url = reverse("inbox:case_triage_correct", args=[kit_a.tenant.slug, case.pk])
    response = client.post(url, {"category": "noise", "requires_response": "0", "priority": "5"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.category, case.priority) == ("noise", 5)
    correction = TriageCorrection.objects.get(tenant=kit_a.tenant)
    assert (correction.category, correction.requires_response, correction.text) == ("noise", False, case.subject)
    assert correction.original["category"] == case.triage["category"]
    # Tenant B cannot correct A's case.
    assert login(kit_b.agent).post(url, {"category": "noise", "requires_response": "0"}).status_code == 404
    assert not TriageCorrection.objects.filter(tenant=kit_b.tenant).exists()


def _corrections(kit, n, start=0):
    """n corrections teaching the tenant that fan chatter about its sponsorships needs no answer."""
    for i in range(start, start + n):
        text = (f"@acme vcs patrocinam o time {i}? vi a logo na camisa" if i % 2 else
                f"@acme sem internet no bairro {i}, não funciona")
        case = open_case(kit, text, author_id=f"c{i}")
        services.triage_correct(tenant=kit.tenant, membership=kit.agent, case=case,
                                category="noise" if i % 2 else "complaint", requires_response=not i % 2)


def test_retraining_promotes_a_better_model_and_keeps_tenants_apart(kit_a, kit_b,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _corrections(kit_a, 60)
    assert callbacks  # every RETRAIN_EVERY corrections queue a retraining
    tasks.triage_model_retrain(kit_a.tenant.pk)
    promoted = TriageModelVersion.objects.get(tenant=kit_a.tenant, status="promoted")
    assert promoted.metrics["candidate"]["score"] > promoted.metrics["incumbent"]["score"]
    chatter = TriageInput("@acme vcs patrocinam o time 999? vi a logo na camisa")
    assert triage(chatter, triage_config_for(kit_a.tenant)).requires_response is False
    assert triage(chatter, triage_config_for(kit_b.tenant)).requires_response is True  # B keeps the baseline
    assert not TriageModelVersion.objects.filter(tenant=kit_b.tenant).exists()
    page = login(kit_a.admin).get(reverse("inbox:triage_models", args=[kit_a.tenant.slug])).content.decode()
    assert f"v{promoted.version}" in page and "In use" in page
    assert f"v{promoted.version}" not in login(kit_b.admin).get(
        reverse("inbox:triage_models", args=[kit_b.tenant.slug])).content.decode()


def test_a_model_that_is_not_better_is_kept_out(kit_a):
    _corrections(kit_a, 60)
    tasks.triage_model_retrain(kit_a.tenant.pk)
    in_use = TriageModelVersion.objects.get(tenant=kit_a.tenant, status="promoted")
    # Nothing new to learn: the same data trains an equal model, which must not replace the one in use.
    tasks.triage_model_retrain(kit_a.tenant.pk)
    latest = TriageModelVersion.objects.filter(tenant=kit_a.tenant).first()
    assert latest.status == "rejected" and TriageModelVersion.objects.get(status="promoted").pk == in_use.pk


def test_the_retrain_task_for_a_vanished_tenant_is_dropped(db):
    assert tasks.triage_model_retrain(999_999) is None


def test_an_admin_adds_personal_data_patterns_and_categories(kit_a, kit_b):
    client = login(kit_a.admin)
    slug = kit_a.tenant.slug
    client.post(reverse("inbox:personal_data_pattern_add", args=[slug]), {"name": "contrato", "regex": r"CT-\d{6}"})
    client.post(reverse("inbox:personal_data_pattern_add", args=[slug]), {"name": "bad", "regex": "("})
    client.post(reverse("inbox:personal_data_pattern_add", args=[slug]), {"name": "empty", "regex": "x*"})
    assert [p.name for p in PersonalDataPattern.objects.filter(tenant=kit_a.tenant)] == ["contrato"]
    case = open_case(kit_a, "sem internet, meu contrato é CT-123456", author_id="p1")
    assert case.personal_data == ["custom:contrato"]
    assert open_case(kit_b, "sem internet, meu contrato é CT-123456", author_id="p1").personal_data == []
    client.post(reverse("inbox:triage_category_add", args=[slug]), {"name": "billing"})
    client.post(reverse("inbox:triage_category_add", args=[slug]), {"name": "complaint"})  # built in: refused
    assert list(TriageCategory.objects.filter(tenant=kit_a.tenant).values_list("name", flat=True)) == ["billing"]
    services.triage_correct(tenant=kit_a.tenant, membership=kit_a.agent, case=case, category="billing",
                            requires_response=True)
    assert Case.objects.get(pk=case.pk).category == "billing"
    page = client.get(reverse("inbox:routing_rules", args=[slug])).content.decode()
    assert "contrato" in page and "billing" in page
    pattern = PersonalDataPattern.objects.get(tenant=kit_a.tenant)
    assert login(kit_b.admin).post(
        reverse("inbox:personal_data_pattern_delete", args=[kit_b.tenant.slug, pattern.pk])).status_code == 404
    assert login(kit_a.agent).post(reverse("inbox:triage_category_add", args=[slug]),
                                   {"name": "x"}).status_code == 403
    client.post(reverse("inbox:personal_data_pattern_delete", args=[slug, pattern.pk]))
    assert not PersonalDataPattern.objects.filter(tenant=kit_a.tenant).exists()
