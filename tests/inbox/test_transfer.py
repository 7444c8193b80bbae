from django.urls import reverse

from inbox.models import Case
from inbox.services import case_claim_next
from sac.models import Team

from ..conftest import login
from ..factories import open_case


def _claimed(kit):
    case = open_case(kit)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def test_an_agent_transfers_a_case_to_a_colleague_with_a_note(kit_a):
    case = _claimed(kit_a)
    client = login(kit_a.agent)
    response = client.post(reverse("inbox:case_transfer", args=["acme", case.pk]),
                           {"to_member": kit_a.agent2.pk, "note": "Cliente pediu retorno à tarde"}, follow=True)
    assert b"transferred to acme-agent2" in response.content
    case.refresh_from_db()
    assert case.assignee == kit_a.agent2.user
    page = login(kit_a.agent2).get(reverse("inbox:case", args=["acme", case.pk]))
    assert "Cliente pediu retorno à tarde".encode() in page.content
    assert b"assigned it to acme-agent2" in page.content


def test_a_transfer_to_a_team_returns_the_case_to_that_teams_queue(kit_a):
    team = Team.objects.create(tenant=kit_a.tenant, name="Financeiro")
    case = _claimed(kit_a)
    login(kit_a.agent).post(reverse("inbox:case_transfer", args=["acme", case.pk]), {"to_team": team.pk})
    case.refresh_from_db()
    assert case.team == team and case.assignee is None


def test_a_colleague_who_does_not_hold_the_case_cannot_transfer_it(kit_a):
    case = _claimed(kit_a)
    response = login(kit_a.agent2).post(reverse("inbox:case_transfer", args=["acme", case.pk]),
                                        {"to_member": kit_a.agent2.pk}, follow=True)
    assert b"Only the assignee or a supervisor" in response.content
    case.refresh_from_db()
    assert case.assignee == kit_a.agent.user


def test_nobody_transfers_to_a_member_of_another_tenant(kit_a, kit_b):
    case = _claimed(kit_a)
    response = login(kit_a.agent).post(reverse("inbox:case_transfer", args=["acme", case.pk]),
                                       {"to_member": kit_b.agent.pk})
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.assignee == kit_a.agent.user


def test_supervisors_reassign_in_bulk_and_agents_cannot(kit_a):
    first, second = _claimed(kit_a), _claimed(kit_a)
    url = reverse("inbox:cases_bulk_reassign", args=["acme"])
    assert login(kit_a.agent).post(url, {"case": [first.pk], "to_member": kit_a.agent2.pk}).status_code == 403
    login(kit_a.supervisor).post(url, {"case": [first.pk, second.pk], "to_member": kit_a.agent2.pk})
    assert set(Case.objects.filter(tenant=kit_a.tenant).values_list("assignee__username", flat=True)) == {
        "acme-agent2"}
    login(kit_a.supervisor).post(url, {"case": [first.pk]})  # back to the queue
    first.refresh_from_db()
    assert first.assignee is None


def test_bulk_reassign_in_b_cannot_touch_as_cases(kit_a, kit_b):
    case = _claimed(kit_a)
    login(kit_b.supervisor).post(reverse("inbox:cases_bulk_reassign", args=["beta"]),
                                 {"case": [case.pk], "to_member": kit_b.agent.pk})
    case.refresh_from_db()
    assert case.assignee == kit_a.agent.user


def test_the_transfer_menu_lists_this_tenants_active_members_with_their_roles(kit_a, kit_b):
    case = _claimed(kit_a)
    kit_a.agent2.is_active = False
    kit_a.agent2.save(update_fields=["is_active"])
    html = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    menu = html.split('id="to-member"')[1].split("</select>")[0]
    assert f'value="{kit_a.supervisor.pk}">acme-supervisor (Supervisor)' in menu
    assert f'value="{kit_a.admin.pk}">acme-admin (Tenant admin)' in menu
    assert "acme-agent2" not in menu  # no longer active here
    assert kit_b.agent.user.username not in menu  # another tenant's people are never offered


def test_the_status_buttons_come_in_the_statuses_order(kit_a):
    case = _claimed(kit_a)  # open: to pending customer, resolved or ignored
    html = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    shown = [html.index(f'data-status="{s}"') for s in ("pending_customer", "resolved", "ignored")]
    assert shown == sorted(shown)  # the same on every worker (the transitions are sets)
