"""Who gets which case: skills for "take next case", round-robin for teams that ask for it."""

import pytest
from django.core.cache import cache

from inbox.models import Case
from inbox.services import case_claim_next, case_transfer
from sac.models import Team
from sac.tenancy import mark_online

from ..factories import open_case


@pytest.fixture(autouse=True)
def _no_one_online():
    cache.clear()
    yield
    cache.clear()


def test_take_next_respects_language_skills(kit_a):
    english = open_case(kit_a, "My internet is not working, this is ridiculous", author_id="1")
    open_case(kit_a, "minha internet não funciona, absurdo, vou no Procon", author_id="2")  # more urgent
    kit_a.agent.languages = ["en"]
    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent).pk == english.pk


def test_take_next_respects_network_skills(kit_a):
    open_case(kit_a, "sem internet, não funciona", author_id="1")
    kit_a.agent.platforms = ["facebook"]
    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent) is None
    kit_a.agent.platforms = ["simulator"]
    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent) is not None


def _auto_team(kit, *members):
    team = Team.objects.create(tenant=kit.tenant, name="Fibra", auto_assign=True)
    for m in members:
        m.teams.add(team)
    return team


def test_round_robin_gives_cases_in_turn_to_online_team_members_only(kit_a):
    team = _auto_team(kit_a, kit_a.agent, kit_a.agent2, kit_a.supervisor)
    mark_online(kit_a.agent)
    mark_online(kit_a.agent2)  # the supervisor is offline
    assignees = []
    for i in range(4):
        case = open_case(kit_a, f"sem internet #{i}", author_id=str(100 + i))
        case = case_transfer(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, to_team=team)
        assignees.append(case.assignee.username)
    assert sorted(assignees) == ["acme-agent", "acme-agent", "acme-agent2", "acme-agent2"]
    assert assignees[0] != assignees[1]


def test_round_robin_respects_the_cap_and_leaves_the_rest_in_the_queue(kit_a):
    team = _auto_team(kit_a, kit_a.agent)
    kit_a.agent.max_open_cases = 1
    kit_a.agent.save(update_fields=["max_open_cases"])
    mark_online(kit_a.agent)
    first = case_transfer(tenant=kit_a.tenant, membership=kit_a.supervisor, case=open_case(kit_a, author_id="1"),
                          to_team=team)
    second = case_transfer(tenant=kit_a.tenant, membership=kit_a.supervisor,
                           case=open_case(kit_a, author_id="2"), to_team=team)
    assert first.assignee == kit_a.agent.user and second.assignee is None
    assert Case.objects.get(pk=second.pk).team == team


def test_online_status_is_per_tenant(kit_a, kit_b):
    team = _auto_team(kit_a, kit_a.agent)
    mark_online(kit_b.agent)  # someone else entirely
    case = case_transfer(tenant=kit_a.tenant, membership=kit_a.supervisor, case=open_case(kit_a), to_team=team)
    assert case.assignee is None


def test_cases_a_routing_rule_sends_to_an_auto_assign_team_go_round_robin_as_triage_opens_them(kit_a):
    from inbox.models import RoutingRule

    team = _auto_team(kit_a, kit_a.agent, kit_a.agent2)
    RoutingRule.objects.create(tenant=kit_a.tenant, name="Fibra", keywords="fibra", team=team)
    mark_online(kit_a.agent)
    mark_online(kit_a.agent2)
    cases = [open_case(kit_a, f"a fibra caiu de novo, não funciona #{i}", author_id=str(300 + i)) for i in range(4)]
    for case in cases:
        case.refresh_from_db()
    assert {c.team_id for c in cases} == {team.pk}
    assert sorted(c.assignee.username for c in cases) == ["acme-agent", "acme-agent", "acme-agent2", "acme-agent2"]
    assert all(c.status == Case.Status.OPEN for c in cases)
    # A case the rule does not route stays in the general queue, unassigned.
    other = open_case(kit_a, "sem sinal no celular, não funciona", author_id="399")
    other.refresh_from_db()
    assert other.team_id is None and other.assignee_id is None
