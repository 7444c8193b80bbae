import functools
from typing import Any

from django.db import connection
from django.http import HttpRequest

from inbox.models import Case
from inbox.panels import CasePanel, register_case_panel
from sac.prepared import model_columns, model_from_row, models_from_row, prepared_batch

from .models import BusinessCalendar, CaseClock, CasePromise, SLAEvent, SLAPolicy
from .selectors import FALLBACK, policy_for


def _context(request: HttpRequest, case: Case) -> dict[str, Any]:
    if connection.vendor == "postgresql":
        return _context_prepared(case)
    return _context_orm(case)


def _context_orm(case: Case) -> dict[str, Any]:
    clock = CaseClock.objects.filter(tenant=case.tenant, case=case).select_related("policy__calendar").first()
    policy = (clock.policy if clock and clock.policy else None) or policy_for(case.tenant)
    promise = CasePromise.objects.filter(tenant=case.tenant, case=case, is_active=True).first()
    return {"policy": policy, "clock": clock, "promise": promise,
            "events": list(case.sla_events.filter(tenant=case.tenant).order_by("at"))}


@functools.cache
def _panel_sql() -> tuple[str, str]:
    clocks, policies = CaseClock._meta.db_table, SLAPolicy._meta.db_table
    calendars, promises = BusinessCalendar._meta.db_table, CasePromise._meta.db_table
    # The clock's policy, else the tenant's default (policy_for), with its calendar; and the active promise: the
    # rows _context's ORM path reads, in one statement.
    state = (f"SELECT {model_columns(CaseClock, 'k')}, {model_columns(SLAPolicy, 'p')}, "
             f"{model_columns(BusinessCalendar, 'b')}, {model_columns(CasePromise, 'r')} "
             "FROM (SELECT 1) one "
             f"LEFT JOIN {clocks} k ON k.tenant_id = %(tenant)s AND k.case_id = %(case)s "
             f"LEFT JOIN {policies} p ON p.tenant_id = %(tenant)s AND p.id = COALESCE(k.policy_id, "
             f"(SELECT d.id FROM {policies} d WHERE d.tenant_id = %(tenant)s AND d.is_default "
             "ORDER BY d.position, d.id LIMIT 1)) "
             f"LEFT JOIN {calendars} b ON b.tenant_id = %(tenant)s AND b.id = p.calendar_id "
             f"LEFT JOIN LATERAL (SELECT {model_columns(CasePromise, 'q')} FROM {promises} q "
             "WHERE q.tenant_id = %(tenant)s AND q.case_id = %(case)s AND q.is_active ORDER BY q.id LIMIT 1) r ON TRUE")
    events = (f"SELECT {model_columns(SLAEvent, 'e')} FROM {SLAEvent._meta.db_table} e "
              "WHERE e.tenant_id = %(tenant)s AND e.case_id = %(case)s ORDER BY e.at, e.id")
    return state, events


def _context_prepared(case: Case) -> dict[str, Any]:
    """_context in one round trip of two prepared statements instead of four ORM queries (five when the
    default policy has a calendar): the panel is on every case page."""
    params = {"tenant": case.tenant.pk, "case": case.pk}
    state, events = _panel_sql()
    (row,), event_rows = prepared_batch([("sla_case_panel_state", state, params),
                                         ("sla_case_panel_events", events, params)])
    clock, policy, calendar, promise = models_from_row(
        row, [(CaseClock, None), (SLAPolicy, None), (BusinessCalendar, None), (CasePromise, None)])
    if policy is not None:
        if calendar is not None:
            policy.calendar = calendar
        if clock is not None and clock.policy_id == policy.pk:
            clock.policy = policy
    return {"policy": policy or FALLBACK, "clock": clock, "promise": promise,
            "events": [model_from_row(SLAEvent, values) for values in event_rows]}


register_case_panel(CasePanel(name="sla", template="sla/_case_panel.html", context=_context, order=10))
