"""The Team page for each role: admins change members and teams, supervisors look, agents are refused;
another brand sees and changes nothing."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from inbox.services import case_transfer
from sac.models import AuditEvent, Role, Team
from sac.tenancy import mark_online

from ..conftest import login
from ..factories import open_case


@pytest.fixture(autouse=True)
def _no_one_online():
    cache.clear()
    yield
    cache.clear()


def _member_post(kit, member, **changes) -> dict:
    data = {"role": member.role, "max_open_cases": member.max_open_cases, "is_active": "on"}
    data.update(changes)
    return data


def test_an_admin_sees_members_with_their_skills_and_teams(kit_a):
    fibra = Team.objects.create(tenant=kit_a.tenant, name="Fibra", auto_assign=True)
    kit_a.agent.teams.add(fibra)
    kit_a.agent.languages, kit_a.agent.platforms = ["en"], ["simulator"]
    kit_a.agent.save(update_fields=["languages", "platforms"])
    mark_online(kit_a.agent)

    body = login(kit_a.admin).get(reverse("sac:team", args=["acme"])).content.decode()
    row = body.split('data-member="acme-agent"')[1].split("</tr>")[0]
    for text in ("Agent", "Fibra", "English", "Simulator", ">20<", "online"):
        assert text in row, text
    assert 'data-team="Fibra"' in body and "checked" in body.split('data-team="Fibra"')[1].split("</tr>")[0]
    assert reverse("sac:member_edit", args=["acme", kit_a.agent.pk]) in body
    assert 'id="team-new"' in body
    assert 'id="nav-team"' in body  # the header links here


def test_a_supervisor_sees_the_page_without_anything_to_change(kit_a):
    Team.objects.create(tenant=kit_a.tenant, name="Fibra")
    client = login(kit_a.supervisor)
    body = client.get(reverse("sac:team", args=["acme"])).content.decode()
    assert 'data-member="acme-agent"' in body and 'data-team="Fibra"' in body
    assert "Only tenant admins can change these." in body
    assert "/members/" not in body and 'id="team-new"' not in body and "/delete/" not in body
    # and the pages that write refuse them
    team = Team.objects.get(tenant=kit_a.tenant, name="Fibra")
    assert client.get(reverse("sac:member_edit", args=["acme", kit_a.agent.pk])).status_code == 403
    assert client.post(reverse("sac:member_edit", args=["acme", kit_a.agent.pk]),
                       _member_post(kit_a, kit_a.agent, max_open_cases=1)).status_code == 403
    assert client.post(reverse("sac:team_new", args=["acme"]), {"name": "Móvel"}).status_code == 403
    assert client.post(reverse("sac:team_edit", args=["acme", team.pk]), {"name": "X"}).status_code == 403
    assert client.post(reverse("sac:team_delete", args=["acme", team.pk])).status_code == 403
    kit_a.agent.refresh_from_db()
    assert kit_a.agent.max_open_cases == 20 and list(Team.objects.filter(tenant=kit_a.tenant)) == [team]


def test_an_agent_gets_a_403_and_no_link(kit_a):
    client = login(kit_a.agent)
    assert client.get(reverse("sac:team", args=["acme"])).status_code == 403
    assert client.post(reverse("sac:team_new", args=["acme"]), {"name": "Mine"}).status_code == 403
    assert 'id="nav-team"' not in client.get(reverse("inbox:queue", args=["acme"])).content.decode()
    assert not Team.objects.filter(tenant=kit_a.tenant).exists()


def test_an_admin_edits_a_member(kit_a):
    fibra = Team.objects.create(tenant=kit_a.tenant, name="Fibra")
    client = login(kit_a.admin)
    url = reverse("sac:member_edit", args=["acme", kit_a.agent.pk])
    form = client.get(url).content.decode()
    assert 'name="max_open_cases"' in form and "Fibra" in form and "Language not detected" in form

    response = client.post(url, _member_post(kit_a, kit_a.agent, role=Role.SUPERVISOR, teams=[fibra.pk],
                                             languages=["pt", "und"], platforms=["x"], max_open_cases=5),
                           follow=True)
    assert "acme-agent saved." in response.content.decode()
    kit_a.agent.refresh_from_db()
    assert (kit_a.agent.role, kit_a.agent.max_open_cases) == (Role.SUPERVISOR, 5)
    assert kit_a.agent.languages == ["pt", "und"] and kit_a.agent.platforms == ["x"]
    assert list(kit_a.agent.teams.all()) == [fibra]
    assert AuditEvent.objects.filter(tenant=kit_a.tenant, verb="membership.updated", actor=kit_a.admin.user).exists()


def test_a_wrong_cap_is_shown_and_nothing_saved(kit_a):
    response = login(kit_a.admin).post(reverse("sac:member_edit", args=["acme", kit_a.agent.pk]),
                                       _member_post(kit_a, kit_a.agent, max_open_cases=500))
    assert response.status_code == 400
    assert "less than or equal to 200" in response.content.decode()
    kit_a.agent.refresh_from_db()
    assert kit_a.agent.max_open_cases == 20


def test_the_last_admin_is_told_why_they_cannot_demote_themselves(kit_a):
    response = login(kit_a.admin).post(reverse("sac:member_edit", args=["acme", kit_a.admin.pk]),
                                       _member_post(kit_a, kit_a.admin, role=Role.AGENT))
    assert response.status_code == 400
    assert "acme-admin is the brand&#x27;s last admin" in response.content.decode()
    kit_a.admin.refresh_from_db()
    assert kit_a.admin.role == Role.ADMIN


def test_an_admin_who_steps_down_to_agent_lands_outside_the_page(kit_a):
    kit_a.supervisor.role = Role.ADMIN
    kit_a.supervisor.save(update_fields=["role"])
    response = login(kit_a.admin).post(reverse("sac:member_edit", args=["acme", kit_a.admin.pk]),
                                       _member_post(kit_a, kit_a.admin, role=Role.AGENT))
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_an_admin_creates_renames_switches_and_deletes_a_team(kit_a):
    client = login(kit_a.admin)
    page = reverse("sac:team", args=["acme"])
    body = client.post(reverse("sac:team_new", args=["acme"]), {"name": "Fibra"}, follow=True).content.decode()
    assert "Team “Fibra” created." in body
    team = Team.objects.get(tenant=kit_a.tenant, name="Fibra")
    assert not team.auto_assign

    body = client.post(reverse("sac:team_new", args=["acme"]), {"name": "Fibra"}, follow=True).content.decode()
    assert "There is already a team with that name." in body

    response = client.post(reverse("sac:team_edit", args=["acme", team.pk]), {"name": "Fibra óptica",
                                                                               "auto_assign": "on"})
    assert response.status_code == 302 and response["Location"] == page
    team.refresh_from_db()
    assert team.name == "Fibra óptica" and team.auto_assign

    kit_a.agent.teams.add(team)
    case = case_transfer(tenant=kit_a.tenant, membership=kit_a.supervisor, case=open_case(kit_a), to_team=team)
    confirm = client.get(reverse("sac:team_delete", args=["acme", team.pk])).content.decode()
    assert "Its 1 case will keep no team" in confirm and "general queue" in confirm
    assert "Its 1 member stays in their other teams." in confirm
    body = client.post(reverse("sac:team_delete", args=["acme", team.pk]), follow=True).content.decode()
    assert "Team “Fibra óptica” deleted; 1 case now has no team." in body
    case.refresh_from_db()
    assert case.team is None and not Team.objects.filter(tenant=kit_a.tenant).exists()


def test_the_page_in_portuguese(kit_a):
    kit_a.tenant.locale = "pt-br"
    kit_a.tenant.save(update_fields=["locale"])
    body = login(kit_a.admin).get(reverse("sac:team", args=["acme"])).content.decode()
    for text in ("Equipe", "Limite de casos abertos", "Redes que atende", "Atribuição automática", "Nova equipe"):
        assert text in body, text
    assert "Open-case cap" not in body


def test_another_brand_sees_and_changes_nothing(kit_a, kit_b):
    team_a = Team.objects.create(tenant=kit_a.tenant, name="secret A team")
    client = login(kit_b.admin)
    body = client.get(reverse("sac:team", args=["beta"])).content.decode()
    assert "secret A team" not in body and "acme-agent" not in body and "beta-agent" in body
    assert client.get(reverse("sac:team", args=["acme"])).status_code == 404
    assert client.get(reverse("sac:member_edit", args=["beta", kit_a.agent.pk])).status_code == 404
    assert client.post(reverse("sac:member_edit", args=["beta", kit_a.agent.pk]),
                       _member_post(kit_a, kit_a.agent, max_open_cases=1)).status_code == 404
    assert client.post(reverse("sac:team_edit", args=["beta", team_a.pk]), {"name": "mine"}).status_code == 404
    assert client.post(reverse("sac:team_delete", args=["beta", team_a.pk])).status_code == 404
    # Beta's admin cannot put a Beta member into Acme's team either.
    response = client.post(reverse("sac:member_edit", args=["beta", kit_b.agent.pk]),
                           _member_post(kit_b, kit_b.agent, teams=[team_a.pk]))
    assert response.status_code == 400 and list(kit_b.agent.teams.all()) == []
    kit_a.agent.refresh_from_db()
    team_a.refresh_from_db()
    assert kit_a.agent.max_open_cases == 20 and team_a.name == "secret A team"
