"""What keeps the queue fast at a million cases (bench/inbox.py measures it): the queue's order comes
straight from a partial index, the sidebar counts are capped and fetched in one round trip, and the case
page does not fetch its tenant again."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inbox import selectors
from inbox.models import Case, Tag
from inbox.selectors import case_queue
from inbox.services import case_claim_next
from inbox.services.cases import _claim_next_sql
from sac.models import AuditEvent, Team

from ..conftest import login
from ..factories import open_case


def _plan(qs) -> str:
    """The plan PostgreSQL would use if it could not sort or scan the whole table: a Sort node left in it
    means no index gives the rows in the queue's order, so every request would sort all open cases."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
        try:
            return qs.explain()
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_sort")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's")
@pytest.mark.parametrize("view", ["all", "unassigned", "mine"])
def test_the_queue_order_is_read_from_an_index_not_sorted(kit_a, view):
    plan = _plan(case_queue(kit_a.tenant, kit_a.agent, view)[:50])
    assert "Sort" not in plan, plan
    assert "_order" in plan, plan  # one of the case_*_order partial indexes


@pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's")
@pytest.mark.parametrize("skills", [False, True])
def test_claim_next_reads_the_most_urgent_case_from_an_index(kit_a, skills):
    """The statement case_claim_next runs (EXPLAIN plans it without running it: nothing is claimed)."""
    sql = _claim_next_sql(languages=skills, platforms=skills, cap=20)
    params = {"tenant": kit_a.tenant.pk, "user": kit_a.agent.user_id, "membership": kit_a.agent.pk,
              "languages": ["pt"], "platforms": ["x"], "object_type": "inbox.case", "now": timezone.now()}
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
        try:
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_sort")
    # The candidates come in the queue's order from a partial index (case_claim_order on the bench's million
    # cases; on a table this small the planner may take case_open_order or case_unassigned_order, which hold the
    # same order): never a sort of the tenant's open cases.
    assert "Sort" not in plan, plan
    assert re.search(r"Index Scan using case_(claim|open|unassigned)_order on inbox_case c\b", plan), plan


def test_sidebar_counts_come_in_one_query_capped_and_per_tenant(kit_a, kit_b, monkeypatch):
    open_case(kit_a, "sem internet desde ontem", author_id="1")
    open_case(kit_a, "Fui cobrado duas vezes, cobranças indevidas na fatura", author_id="2")
    open_case(kit_a, author_id="3")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    with CaptureQueriesContext(connection) as ctx:
        counts = selectors.queue_counts(kit_a.tenant, kit_a.agent)
    # One round trip per poll (a connection's first also PREPAREs the statement: sac/prepared.py).
    assert len([q for q in ctx.captured_queries if not q["sql"].startswith("PREPARE")]) == 1
    # Three open cases: "all" stops at the cap; the others are exact below it.
    assert counts == {"mine": 1, "unassigned": 2, "team": 0, "all": 2}
    assert selectors.queue_counts(kit_b.tenant, kit_b.agent) == {"mine": 0, "unassigned": 0, "team": 0, "all": 0}


def test_the_queue_and_case_pages_do_not_grow_queries_with_rows(kit_a):
    """One query for all the rows (customer and assignee joined), however many cases the page shows."""
    client = login(kit_a.supervisor)
    url = reverse("inbox:queue", args=["acme"])
    open_case(kit_a, "sem internet desde ontem", author_id="1")
    client.get(url, {"view": "all"})
    with CaptureQueriesContext(connection) as one:
        assert client.get(url, {"view": "all"}).status_code == 200
    for i in range(2, 6):
        open_case(kit_a, author_id=str(i))
    with CaptureQueriesContext(connection) as five:
        page = client.get(url, {"view": "all"})
    assert page.content.count(b'class="case-row') == 5
    assert len(five.captured_queries) == len(one.captured_queries)

    case = Case.objects.filter(tenant=kit_a.tenant).first()
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("inbox:case", args=["acme", case.pk])).status_code == 200
    tenant_reads = [q for q in ctx.captured_queries if 'FROM "sac_tenant"' in q["sql"] and "JOIN" not in q["sql"]]
    assert tenant_reads == []


def test_queue_rows_show_what_the_case_says_escaped_and_masked(kit_a):
    """The rows are built in Python (inbox/templatetags/queue_tags.py), not by the template engine: what an
    agent reads there must still be escaped, masked and linked as before."""
    masked = open_case(kit_a, "meu telefone é (21) 99876-5432 <b>urgente</b> & rápido", author_id="1", handle="ana")
    plain = open_case(kit_a, "sem internet desde ontem", author_id="2", handle="bia")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)  # the most urgent goes to the agent
    page = login(kit_a.supervisor).get(reverse("inbox:queue", args=["acme"]), {"view": "all"}).content.decode()
    assert "99876-5432" not in page and "<b>urgente</b>" not in page
    assert "&lt;b&gt;urgente&lt;/b&gt; &amp; rápido" in page and "••••" in page
    assert '<span class="pd" title="Personal data: phone: answer privately">private</span>' in page
    for case in (masked, plain):
        case.refresh_from_db()
        assert f'<a href="{reverse("inbox:case", args=["acme", case.pk])}">{case.protocol}</a>' in page
    assert "@ana" in page and "@bia" in page
    assert "<td>acme-agent</td>" in page and "<td>—</td>" in page  # one assigned, one nobody's
    assert 'name="case" value="' in page  # a supervisor's "All open" has the bulk checkboxes


def test_the_filter_menus_hold_only_the_tenants_own_channels_and_tags(kit_a, kit_b):
    Tag.objects.create(tenant=kit_a.tenant, name="fibra")
    Tag.objects.create(tenant=kit_a.tenant, name="arquivada", archived=True)
    Tag.objects.create(tenant=kit_b.tenant, name="segredo-da-beta")
    page = login(kit_a.agent).get(reverse("inbox:queue", args=["acme"])).content.decode()
    assert ">fibra</option>" in page and "arquivada" not in page and "segredo-da-beta" not in page
    assert f'<option value="{kit_a.channel.pk}" >{kit_a.channel.name}</option>' in page
    assert f'value="{kit_b.channel.pk}"' not in page


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement claim is PostgreSQL's")
def test_claim_next_is_one_statement_and_keeps_the_audit_and_the_clocks(kit_a):
    case = open_case(kit_a, "sem internet desde ontem", author_id="1")
    due = (case.first_response_due, case.resolution_due)
    with CaptureQueriesContext(connection) as ctx:
        claimed = case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    # Not the test's own transaction (SAVEPOINT), nor the PREPARE a connection's first claim sends.
    statements = [q["sql"] for q in ctx.captured_queries
                  if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "PREPARE"))]
    assert len(statements) == 1, statements
    assert claimed.pk == case.pk and claimed.assignee == kit_a.agent.user and claimed.status == "open"
    case.refresh_from_db()
    assert case.assignee == kit_a.agent.user and case.status == "open"
    # Taking the case moves no SLA clock: the first response is still due when it was.
    assert (case.first_response_due, case.resolution_due) == due
    event = AuditEvent.objects.get(tenant=kit_a.tenant, verb="case.assigned", object_id=str(case.pk))
    assert event.actor == kit_a.agent.user and event.data == {"assignee": "acme-agent", "how": "claim_next"}
    assert event.object_type == "inbox.case"


def test_claim_next_takes_the_agents_teams_cases_and_those_of_no_team(kit_a):
    fibra, movel = Team.objects.create(tenant=kit_a.tenant, name="Fibra"), Team.objects.create(
        tenant=kit_a.tenant, name="Móvel")
    other_team = open_case(kit_a, "sem internet há 3 dias, vou no Procon, absurdo", author_id="1")
    mine = open_case(kit_a, "sem internet desde ontem", author_id="2")
    nobodys = open_case(kit_a, "pergunta: qual o horário da loja?", author_id="3")
    Case.objects.filter(pk=other_team.pk).update(team=movel)
    Case.objects.filter(pk=mine.pk).update(team=fibra)
    kit_a.agent.teams.add(fibra)
    taken = [case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent) for _ in range(3)]
    assert [c.pk if c else None for c in taken] == [mine.pk, nobodys.pk, None]
    # An agent in no team takes any case.
    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent2).pk == other_team.pk


def test_claim_next_never_takes_another_tenants_case_nor_counts_its_load(kit_a, kit_b):
    open_case(kit_b, "sem internet desde ontem", author_id="1")
    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent) is None
    theirs = case_claim_next(tenant=kit_b.tenant, membership=kit_b.agent)
    assert theirs is not None and theirs.tenant_id == kit_b.tenant.pk
    mine = open_case(kit_a, "sem internet desde ontem", author_id="1")
    kit_a.agent.max_open_cases = 1  # kit_b's agent has one open case; kit_a's has none yet
    assert case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent).pk == mine.pk


def test_a_colleague_viewing_a_case_gets_the_page_without_the_composer(kit_a):
    """The composer (canned replies, private route, handoff) is built only for whoever may answer."""
    case = open_case(kit_a, "sem internet desde ontem", author_id="1")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    url = reverse("inbox:case", args=["acme", case.pk])
    with CaptureQueriesContext(connection) as ctx:
        page = login(kit_a.agent2).get(url)
    assert b"acme-agent is working on this case." in page.content and b'id="composer"' not in page.content
    assert not [q for q in ctx.captured_queries if "inbox_cannedreply" in q["sql"]]
    assert b'id="composer"' in login(kit_a.agent).get(url).content


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the hand-written rows statement is PostgreSQL's")
@pytest.mark.parametrize("view", ["mine", "unassigned", "team", "all"])
def test_the_unfiltered_rows_statement_gives_case_queues_rows(kit_a, kit_b, view):
    """The queue without filters (what every open queue polls) is one hand-written statement; it must list
    what case_queue lists, in its order, with the same values."""
    team = Team.objects.create(tenant=kit_a.tenant, name="Fibra")
    kit_a.agent.teams.add(team)
    for i, text in enumerate(["meu cpf é 123.456.789-09, sem internet", "sem internet há 3 dias, vou no Procon",
                              "pergunta: qual o horário da loja?", "cobrança indevida na fatura"]):
        open_case(kit_a, text, author_id=str(i + 1))
    open_case(kit_b, "sem internet desde ontem", author_id="1")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent2)
    Case.objects.filter(tenant=kit_a.tenant, assignee__isnull=True).update(team=team)
    plain = selectors.queue_rows(kit_a.tenant, kit_a.agent, view, limit=50)
    orm = selectors.queue_rows(kit_a.tenant, kit_a.agent, view, selectors.QueueFilters(status="new"), limit=50)
    orm += selectors.queue_rows(kit_a.tenant, kit_a.agent, view, selectors.QueueFilters(status="open"), limit=50)
    assert plain and sorted(plain, key=lambda r: r.pk) == sorted(orm, key=lambda r: r.pk)
    assert [r.pk for r in plain] == list(case_queue(kit_a.tenant, kit_a.agent, view).values_list("pk", flat=True))
    assert all(isinstance(r.personal_data, list) for r in plain)  # the JSON column decoded, as the ORM does
    if view == "all":
        assert any(r.personal_data for r in plain)
