"""What keeps the case page cheap: its thread and its SLA panel come in one round trip each, as prepared
statements (inbox/prepared.py), and show the same rows as the ORM querysets they replace."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inbox import selectors, services
from inbox.models import Reply
from sla import panels as sla_panels
from sla.services import promise_make, sla_event_record

from ..conftest import login
from ..factories import open_case

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the prepared path is PostgreSQL's")


def _busy_case(kit):
    """A case with something of every kind in its thread and its SLA panel."""
    case = open_case(kit, "Fui cobrado duas vezes na fatura, alguém me ajuda?")
    case = services.case_claim(tenant=kit.tenant, membership=kit.agent, case=case)
    services.note_add(tenant=kit.tenant, membership=kit.agent, case=case, text="Checking the invoice")
    services.reply_create(tenant=kit.tenant, membership=kit.agent, case=case, text="We are on it!",
                          visibility=Reply.Visibility.PUBLIC, idempotency_key=uuid.uuid4().hex)
    promise_make(tenant=kit.tenant, membership=kit.agent, case=case, min_hours=2, max_hours=6)
    now = timezone.now()
    sla_event_record(case=case, target="first_response", due_at=now + timedelta(hours=1), at=now, met=True)
    return selectors.access_case(kit.tenant, case.pk)


def _shown(entries) -> list[tuple]:
    def person(obj):
        who = getattr(obj, "actor", None) if hasattr(obj, "actor_id") else getattr(obj, "author", None)
        return getattr(who, "username", None) or getattr(who, "handle", None)

    return [(e.at, e.kind, type(e.obj), e.obj.pk, getattr(e.obj, "text", ""), getattr(e.obj, "data", None),
             person(e.obj), e.media) for e in entries]


def test_it_reads_the_thread_in_one_round_trip_with_the_rows_of_the_orm(kit_a):
    case = _busy_case(kit_a)
    selectors.case_thread(kit_a.tenant, case)  # the connection's first call also PREPAREs the statements
    with CaptureQueriesContext(connection) as ctx:
        thread = selectors.case_thread(kit_a.tenant, case)
    assert len(ctx.captured_queries) == 1
    assert {e.kind for e in thread} == {"mention", "reply", "note", "event"}
    assert _shown(thread) == _shown(selectors._case_thread_orm(kit_a.tenant, case))
    # Replies and notes show their author's username; the password hash is never read.
    reply = next(e.obj for e in thread if e.kind == "reply")
    assert reply.author.username == kit_a.agent.user.username
    assert "password" in reply.author.get_deferred_fields()


def test_it_reads_the_sla_panel_in_one_round_trip_with_the_rows_of_the_orm(kit_a):
    case = _busy_case(kit_a)
    sla_panels._context(None, case)
    with CaptureQueriesContext(connection) as ctx:
        prepared = sla_panels._context(None, case)
    assert len(ctx.captured_queries) == 1
    orm = sla_panels._context_orm(case)
    assert prepared["promise"] is not None and prepared["events"]
    assert prepared["promise"].pk == orm["promise"].pk and str(prepared["promise"]) == str(orm["promise"])
    assert [(e.pk, e.target, e.met) for e in prepared["events"]] == [(e.pk, e.target, e.met) for e in orm["events"]]
    assert (prepared["clock"] and prepared["clock"].pk) == (orm["clock"] and orm["clock"].pk)
    assert (prepared["policy"].pk, str(prepared["policy"])) == (orm["policy"].pk, str(orm["policy"]))


def test_another_tenants_thread_and_panel_are_empty(kit_a, kit_b):
    case = _busy_case(kit_a)
    case.tenant = kit_b.tenant  # as if a selector were handed the wrong tenant: every statement filters by it
    assert selectors.case_thread(kit_b.tenant, case) == []
    context = sla_panels._context(None, case)
    assert context["clock"] is None and context["promise"] is None and context["events"] == []


def test_the_case_page_shows_the_thread_and_the_panel(kit_a):
    case = _busy_case(kit_a)
    html = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert "Fui cobrado duas vezes" in html and "We are on it!" in html and "Checking the invoice" in html
    assert 'id="sla-promise"' in html and "between 2 and 6 hours" in html
