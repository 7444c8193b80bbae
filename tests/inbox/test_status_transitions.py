"""The case statuses (the specification: new → open → pending_customer ⇄ open → resolved → closed after N days;
ignored for noise, recoverable), walked through inbox.services.TRANSITIONS: every allowed step is taken by the
one service that changes a status, and every other one is refused with a message the agent can read."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Case
from inbox.services import (
    TRANSITIONS,
    CaseActionError,
    case_claim_next,
    case_status_change,
    cases_auto_close,
    mentions_triage,
)
from sac.models import AuditEvent

from ..factories import ingest, mention_item, open_case

S = Case.Status
ALLOWED = sorted((old, new) for old, targets in TRANSITIONS.items() for new in targets)
REFUSED = sorted((old, new) for old in S for new in S if new not in TRANSITIONS[old])


def _case_in(kit, status: str) -> Case:
    """A real case (ingest → triage), assigned to the agent, then put in `status` as earlier steps would have."""
    case = open_case(kit, "sem internet desde ontem, ninguém resolve", author_id="31")
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    resolved_at = timezone.now() if status in (S.RESOLVED, S.CLOSED) else None
    Case.objects.filter(tenant=kit.tenant, pk=case.pk).update(status=status, resolved_at=resolved_at)
    case.refresh_from_db()
    return case


def test_the_table_is_the_specifications():
    assert TRANSITIONS == {
        S.NEW: {S.OPEN, S.PENDING_CUSTOMER, S.RESOLVED, S.IGNORED},
        S.OPEN: {S.PENDING_CUSTOMER, S.RESOLVED, S.IGNORED},
        S.PENDING_CUSTOMER: {S.OPEN, S.RESOLVED},
        S.RESOLVED: {S.OPEN, S.CLOSED},
        S.IGNORED: {S.OPEN},
        S.CLOSED: set(),
    }


@pytest.mark.parametrize(("old", "new"), ALLOWED, ids=[f"{o}->{n}" for o, n in ALLOWED])
def test_it_takes_every_allowed_step_with_an_audit_row(kit_a, old, new):
    case = _case_in(kit_a, old)
    changed = case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status=new)
    case.refresh_from_db()
    assert changed.status == case.status == new
    # Resolving stamps the time (the auto-close window runs from it); reopening clears it.
    if new == S.RESOLVED:
        assert case.resolved_at is not None
    if new == S.OPEN:
        assert case.resolved_at is None
    event = AuditEvent.objects.filter(tenant=kit_a.tenant, verb="case.status_changed", object_id=str(case.pk)).last()
    assert event.data == {"from": old, "to": new} and event.actor_id == kit_a.agent.user_id


@pytest.mark.parametrize(("old", "new"), REFUSED, ids=[f"{o}->{n}" for o, n in REFUSED])
def test_it_refuses_every_other_step_and_says_why(kit_a, old, new):
    case = _case_in(kit_a, old)
    with pytest.raises(CaseActionError) as refused:
        case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status=new)
    assert str(refused.value) == f"A case that is {S(old).label.lower()} cannot become {S(new).label.lower()}."
    case.refresh_from_db()
    assert case.status == old


def test_an_unknown_status_is_refused_not_a_500(kit_a):
    case = _case_in(kit_a, S.OPEN)
    with pytest.raises(CaseActionError, match="Unknown status archived"):
        case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status="archived")


def test_an_ignored_case_is_recovered_to_open_by_a_supervisor_not_by_a_colleague(kit_a):
    case = _case_in(kit_a, S.OPEN)
    case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status=S.IGNORED)
    with pytest.raises(CaseActionError, match="Only the assignee or a supervisor"):
        case_status_change(tenant=kit_a.tenant, membership=kit_a.agent2, case=case, new_status=S.OPEN)
    case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, new_status=S.OPEN)
    case.refresh_from_db()
    assert case.status == S.OPEN and case.is_open


def test_taking_a_new_case_opens_it(kit_a):
    case = open_case(kit_a, "sem internet desde ontem", author_id="32")
    assert case.status == S.NEW
    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent).status == S.OPEN


def test_the_customer_answering_moves_pending_customer_back_to_open(kit_a):
    case = _case_in(kit_a, S.OPEN)
    case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status=S.PENDING_CUSTOMER)
    stored = ingest(kit_a.channel, [mention_item("segue o número do contrato, ainda sem internet", author_id="31")])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=stored.stored_ids)
    case.refresh_from_db()
    assert case.status == S.OPEN


def test_resolved_cases_close_by_themselves_after_the_window_and_stay_closed(kit_a, kit_b):
    old = _case_in(kit_a, S.RESOLVED)
    recent = open_case(kit_a, "cobrança indevida na fatura", author_id="33")
    case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=recent, new_status=S.RESOLVED)
    other = _case_in(kit_b, S.RESOLVED)
    week_ago = timezone.now() - timedelta(days=8)
    Case.objects.filter(pk__in=[old.pk, other.pk]).update(resolved_at=week_ago)

    assert cases_auto_close(older_than=timedelta(days=7)) == 2  # both tenants' old ones, not the recent one
    for case, status in ((old, S.CLOSED), (other, S.CLOSED), (recent, S.RESOLVED)):
        case.refresh_from_db()
        assert case.status == status
    event = AuditEvent.objects.get(tenant=kit_a.tenant, verb="case.status_changed", object_id=str(old.pk),
                                   data__to=S.CLOSED)
    assert event.actor_id is None and event.data["how"] == "auto_close"
    with pytest.raises(CaseActionError, match="closed cannot become open"):
        case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=old, new_status=S.OPEN)
