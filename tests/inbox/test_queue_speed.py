"""What keeps the queue fast at a million cases (bench/inbox.py measures it): the queue's order comes
straight from a partial index, the sidebar counts are capped and fetched in one round trip, and the case
page does not fetch its tenant again."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inbox import selectors
from inbox.models import Case
from inbox.selectors import case_queue
from inbox.services import case_claim_next

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
def test_claim_next_reads_the_most_urgent_case_from_an_index(kit_a):
    # The same query case_claim_next runs (without the lock, which EXPLAIN does not need).
    qs = (Case.objects.filter(tenant=kit_a.tenant, assignee__isnull=True, status__in=("new", "open"))
          .order_by("-priority", "first_message_at", "pk")[:1])
    plan = _plan(qs)
    assert "Sort" not in plan and "case_claim_order" in plan, plan


def test_sidebar_counts_come_in_one_query_capped_and_per_tenant(kit_a, kit_b, monkeypatch):
    open_case(kit_a, "sem internet desde ontem", author_id="1")
    open_case(kit_a, "Fui cobrado duas vezes, cobranças indevidas na fatura", author_id="2")
    open_case(kit_a, author_id="3")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    with CaptureQueriesContext(connection) as ctx:
        counts = selectors.queue_counts(kit_a.tenant, kit_a.agent)
    assert len(ctx.captured_queries) == 1
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
