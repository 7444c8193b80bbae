"""The Team page's writes: a member's role, teams, skills and cap; teams created, renamed, switched, deleted."""

import pytest
from django.utils import translation

from channels_ingest.models import Platform
from inbox.models import Case, RoutingRule
from inbox.services import case_claim_next, case_transfer
from inbox.triage_forms import LANGUAGES as ROUTING_LANGUAGES
from sac.models import AuditEvent, Role, Team
from sac.services import (
    MEMBER_LANGUAGES,
    MEMBER_PLATFORMS,
    TeamConfigError,
    membership_update,
    team_create,
    team_delete,
    team_update,
)

from ..factories import open_case


def _update(kit, member, **changes):
    fields = {"role": member.role, "teams": list(member.teams.all()), "languages": member.languages,
              "platforms": member.platforms, "max_open_cases": member.max_open_cases, "is_active": member.is_active}
    return membership_update(tenant=kit.tenant, actor=kit.admin, member=member, **{**fields, **changes})


def _audits(kit, verb):
    return list(AuditEvent.objects.filter(tenant=kit.tenant, verb=verb))


def test_the_skill_lists_are_the_ones_the_inbox_compares_with():
    assert set(MEMBER_PLATFORMS) == set(Platform.values)
    assert set(MEMBER_LANGUAGES) == {code for code, _label in ROUTING_LANGUAGES if code}


def test_it_sets_a_members_role_teams_skills_and_cap_with_an_audit_row(kit_a):
    fibra = team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="Fibra")
    member = _update(kit_a, kit_a.agent, role=Role.SUPERVISOR, teams=[fibra], languages=["en", "pt"],
                     platforms=["simulator"], max_open_cases=3)

    member.refresh_from_db()
    assert member.role == Role.SUPERVISOR and member.max_open_cases == 3
    assert member.languages == ["pt", "en"] and member.platforms == ["simulator"]
    assert list(member.teams.all()) == [fibra]
    [audit] = _audits(kit_a, "membership.updated")
    assert audit.actor == kit_a.admin.user and audit.object_id == str(member.pk)
    assert audit.data["changes"]["max_open_cases"] == [20, 3]
    assert audit.data["changes"]["teams"] == [[], ["Fibra"]]


def test_nothing_changed_writes_no_audit_row(kit_a):
    _update(kit_a, kit_a.agent)
    assert _audits(kit_a, "membership.updated") == []


@pytest.mark.parametrize("cap", [0, 201])
def test_the_cap_stays_between_1_and_200(kit_a, cap):
    with pytest.raises(TeamConfigError, match="between 1 and 200"):
        _update(kit_a, kit_a.agent, max_open_cases=cap)
    kit_a.agent.refresh_from_db()
    assert kit_a.agent.max_open_cases == 20


def test_another_tenants_team_or_an_unknown_skill_is_refused(kit_a, kit_b):
    theirs = Team.objects.create(tenant=kit_b.tenant, name="Beta team")
    with pytest.raises(TeamConfigError, match="does not belong to this brand"):
        _update(kit_a, kit_a.agent, teams=[theirs])
    with pytest.raises(TeamConfigError):
        _update(kit_a, kit_a.agent, languages=["fr"])
    with pytest.raises(TeamConfigError):
        _update(kit_a, kit_a.agent, platforms=["tiktok"])
    assert list(kit_a.agent.teams.all()) == [] and _audits(kit_a, "membership.updated") == []


@pytest.mark.parametrize("change", [{"role": Role.SUPERVISOR}, {"role": Role.AGENT}, {"is_active": False}])
def test_the_last_admin_cannot_demote_or_deactivate_themselves(kit_a, change):
    with pytest.raises(TeamConfigError, match="last admin"):
        _update(kit_a, kit_a.admin, **change)
    kit_a.admin.refresh_from_db()
    assert kit_a.admin.role == Role.ADMIN and kit_a.admin.is_active


def test_with_a_second_admin_an_admin_may_step_down(kit_a):
    _update(kit_a, kit_a.supervisor, role=Role.ADMIN)
    _update(kit_a, kit_a.admin, role=Role.AGENT)
    kit_a.admin.refresh_from_db()
    assert kit_a.admin.role == Role.AGENT
    # Now the former supervisor is the last one.
    with pytest.raises(TeamConfigError, match="last admin"):
        membership_update(tenant=kit_a.tenant, actor=kit_a.supervisor, member=kit_a.supervisor, role=Role.AGENT,
                          teams=[], languages=[], platforms=[], max_open_cases=20, is_active=True)


def test_another_tenants_admins_do_not_count(kit_a, kit_b):
    # Beta has an admin; Acme's only admin is still Acme's last.
    with pytest.raises(TeamConfigError, match="last admin"):
        _update(kit_a, kit_a.admin, role=Role.AGENT)


def test_the_message_follows_the_language(kit_a):
    with translation.override("pt-br"), pytest.raises(TeamConfigError, match="último admin"):
        _update(kit_a, kit_a.admin, role=Role.AGENT)


def test_teams_are_created_renamed_and_switched_with_audit_rows(kit_a):
    team = team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="  Fibra   óptica ")
    assert team.name == "Fibra óptica" and not team.auto_assign
    team_update(tenant=kit_a.tenant, actor=kit_a.admin, team=team, name="Fibra", auto_assign=True)
    team.refresh_from_db()
    assert team.name == "Fibra" and team.auto_assign
    assert [a.data for a in _audits(kit_a, "team.created")] == [{"name": "Fibra óptica", "auto_assign": False}]
    [updated] = _audits(kit_a, "team.updated")
    assert updated.data == {"changes": {"name": ["Fibra óptica", "Fibra"], "auto_assign": [False, True]}}


def test_a_team_name_is_unique_in_the_tenant_only(kit_a, kit_b):
    team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="Fibra")
    team_create(tenant=kit_b.tenant, actor=kit_b.admin, name="Fibra")  # another brand may use it
    with pytest.raises(TeamConfigError, match="already a team"):
        team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="Fibra")
    other = team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="Móvel")
    with pytest.raises(TeamConfigError, match="already a team"):
        team_update(tenant=kit_a.tenant, actor=kit_a.admin, team=other, name="Fibra", auto_assign=False)
    with pytest.raises(TeamConfigError, match="needs a name"):
        team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="   ")
    assert Team.objects.filter(tenant=kit_a.tenant).count() == 2


def test_deleting_a_team_sends_its_cases_back_to_the_general_queue(kit_a):
    fibra = team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="Fibra")
    movel = team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="Móvel")
    rule = RoutingRule.objects.create(tenant=kit_a.tenant, name="fibra", keywords="fibra", team=fibra)
    case = case_transfer(tenant=kit_a.tenant, membership=kit_a.supervisor, case=open_case(kit_a), to_team=fibra)
    _update(kit_a, kit_a.agent, teams=[movel])
    _update(kit_a, kit_a.agent2, teams=[fibra, movel])
    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent) is None  # Fibra's, not theirs

    fibra_id = fibra.pk
    assert team_delete(tenant=kit_a.tenant, actor=kit_a.admin, team=fibra) == 1

    case.refresh_from_db()
    rule.refresh_from_db()
    assert case.team is None and case.assignee is None and rule.team is None
    assert list(kit_a.agent2.teams.all()) == [movel]
    [audit] = _audits(kit_a, "team.deleted")
    assert audit.object_id == str(fibra_id) and audit.data == {"name": "Fibra", "cases": 1, "members": 1}
    assert not Team.objects.filter(pk=fibra_id).exists()
    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent).pk == case.pk  # anyone's now
    assert Case.objects.get(pk=case.pk).assignee == kit_a.agent.user
