"""The queue's views per role, the sidebar counts and the tab title's count refreshed by the polls
(docs/inbox.md, "Views, statuses and the tab title")."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inbox import selectors
from inbox.services import case_claim_next, case_transfer, mentions_triage

from ..conftest import login
from ..factories import ingest, mention_item, open_case


def _tab(html: str) -> int:
    return int(re.search(r'id="tab-count" hidden data-count="(\d+)"', html).group(1))


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    # The session read (cached_db) and a connection's first PREPAREs are not the poll's own work.
    return [q["sql"] for q in ctx.captured_queries
            if "django_session" not in q["sql"] and not q["sql"].startswith("PREPARE")]


# ---------------------------------------------------------------- views per role

def test_it_shows_an_agent_no_all_open_view_and_refuses_it_with_a_message(kit_a):
    theirs = open_case(kit_a, "sem internet desde ontem", author_id="1")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent2)  # a colleague's case: not the agent's to see
    mine = open_case(kit_a, "cobrança indevida na fatura", author_id="2")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    client = login(kit_a.agent)
    url = reverse("inbox:queue", args=["acme"])

    page = client.get(url).content.decode()
    assert 'data-view="all"' not in page and 'data-view="mine"' in page and 'data-view="unassigned"' in page

    refused = client.get(url, {"view": "all"})
    assert refused.status_code == 200
    html = refused.content.decode()
    assert "“All open” is for supervisors; here are your cases." in html
    assert "<h1>My cases</h1>" in html
    assert mine.protocol in html and theirs.protocol not in html
    poll = re.search(r'id="queue-rows" hx-get="([^"]*)"', html).group(1)
    assert "view=mine" in poll and "view=all" not in poll  # the rows poll asks for what is shown
    # The poll itself, asked for "all" (an old tab), gets the agent's own rows.
    rows = client.get(reverse("inbox:queue_rows", args=["acme"]), {"view": "all"}).content.decode()
    assert mine.protocol in rows and theirs.protocol not in rows
    assert 'id="ignored-link"' not in page
    assert client.get(reverse("inbox:ignored", args=["acme"])).status_code == 403


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_open_all_open(kit_a, role):
    first = open_case(kit_a, "sem internet desde ontem", author_id="1")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent2)
    second = open_case(kit_a, "cobrança indevida na fatura", author_id="2")
    client = login(getattr(kit_a, role))
    page = client.get(reverse("inbox:queue", args=["acme"]), {"view": "all"}).content.decode()
    assert "<h1>All open</h1>" in page and 'data-view="all"' in page and "is for supervisors" not in page
    assert first.protocol in page and second.protocol in page
    assert 'id="bulk-form"' in page and 'id="ignored-link"' in page


def test_all_open_lists_no_other_tenants_case(kit_a, kit_b):
    other = open_case(kit_b, "sem internet desde ontem", author_id="1")
    page = login(kit_a.supervisor).get(reverse("inbox:queue", args=["acme"]), {"view": "all"}).content.decode()
    assert other.protocol not in page


# ---------------------------------------------------------------- the polls refresh the counts

def test_the_rows_poll_refreshes_the_sidebar_counts_out_of_band(kit_a):
    client = login(kit_a.agent)
    rows_url = reverse("inbox:queue_rows", args=["acme"])
    before = client.get(rows_url, {"view": "mine"}).content.decode()
    assert '<span class="count" id="count-unassigned" hx-swap-oob="true">0</span>' in before
    assert 'id="count-all"' not in before  # an agent's sidebar has no such count

    open_case(kit_a, "sem internet desde ontem", author_id="1")
    open_case(kit_a, "cobrança indevida na fatura", author_id="2")
    after = client.get(rows_url, {"view": "mine"}).content.decode()
    assert '<span class="count" id="count-unassigned" hx-swap-oob="true">2</span>' in after
    # Inside a <template>: htmx 2 swaps them in by id and the rows' <tbody> gets none of it.
    assert re.search(r"<template>.*id=\"count-mine\".*id=\"tab-count\".*</template>", after, re.S)


def test_the_tab_title_counts_unseen_customer_messages_and_new_cases_to_claim(kit_a):
    client = login(kit_a.agent)
    queue_url = reverse("inbox:queue", args=["acme"])
    assert _tab(client.get(queue_url).content.decode()) == 0

    case = open_case(kit_a, "sem internet desde ontem", author_id="1")
    open_case(kit_a, "cobrança indevida na fatura", author_id="2")
    assert _tab(client.get(queue_url).content.decode()) == 2  # two new cases the agent may take

    taken = case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    page = client.get(queue_url).content.decode()
    assert _tab(page) == 2  # one left to claim, and the taken one unread until the agent opens it
    client.get(reverse("inbox:case", args=["acme", taken.pk]))
    assert _tab(client.get(queue_url).content.decode()) == 1

    # The customer writes again on the agent's case: it counts until the agent reads the thread.
    author_id = "1" if taken.pk == case.pk else "2"
    stored = ingest(kit_a.channel, [mention_item("alguém aí?? continuo sem nada", author_id=author_id)])
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=stored.stored_ids)
    rows = client.get(reverse("inbox:queue_rows", args=["acme"]), {"view": "mine"}).content.decode()
    assert _tab(rows) == 2
    # A colleague (the supervisor) looking at it does not make it read for the agent.
    login(kit_a.supervisor).get(reverse("inbox:case", args=["acme", taken.pk]))
    assert _tab(client.get(queue_url).content.decode()) == 2
    # The agent's open case page polls its thread: the count rides along, and the case on screen never counts.
    thread = client.get(reverse("inbox:case_thread", args=["acme", taken.pk])).content.decode()
    assert 'id="tab-count" hidden data-count="1"' in thread and 'hx-swap-oob="true"' in thread
    assert _tab(client.get(queue_url).content.decode()) == 1


def test_a_case_handed_over_is_unread_for_its_new_assignee(kit_a):
    case = open_case(kit_a, "sem internet desde ontem", author_id="1")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk]))  # read by the agent
    case.refresh_from_db()
    case_transfer(tenant=kit_a.tenant, membership=kit_a.agent, case=case, to_membership=kit_a.agent2)
    assert selectors.tab_count(kit_a.tenant, kit_a.agent2).unread == 1
    assert selectors.tab_count(kit_a.tenant, kit_a.agent).unread == 0


def test_the_case_page_starts_with_the_tab_count(kit_a):
    open_case(kit_a, "sem internet desde ontem", author_id="1")
    open_case(kit_a, "cobrança indevida na fatura", author_id="2")
    case = case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    page = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    # The case on screen is not counted; the other one waits to be claimed.
    assert 'id="tab-count" hidden data-count="1" data-unread="0" data-claimable="1"' in page
    assert "document.title" in page


def test_the_counts_are_per_tenant(kit_a, kit_b):
    open_case(kit_b, "sem internet desde ontem", author_id="1")
    case_claim_next(tenant=kit_b.tenant, membership=kit_b.agent)
    open_case(kit_b, "cobrança indevida na fatura", author_id="2")
    assert selectors.tab_count(kit_a.tenant, kit_a.agent) == selectors.TabCount(0, 0)
    assert selectors.tab_count(kit_b.tenant, kit_b.agent) == selectors.TabCount(1, 1)


# ---------------------------------------------------------------- the polls stay cheap

@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-round-trip reads are PostgreSQL's")
def test_the_polls_run_a_fixed_number_of_statements_whatever_the_number_of_cases(kit_a):
    client = login(kit_a.agent)
    rows_url = reverse("inbox:queue_rows", args=["acme"])
    first = open_case(kit_a, "sem internet desde ontem", author_id="1")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    thread_url = reverse("inbox:case_thread", args=["acme", first.pk])
    client.get(rows_url, {"view": "mine"})
    client.get(thread_url)  # marks the case seen: the polls after it write nothing
    with CaptureQueriesContext(connection) as rows_one:
        client.get(rows_url, {"view": "mine"})
    with CaptureQueriesContext(connection) as thread_one:
        client.get(thread_url)

    for i in range(2, 7):
        open_case(kit_a, f"sem internet há {i} dias", author_id=str(i))
        case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    with CaptureQueriesContext(connection) as rows_many:
        client.get(rows_url, {"view": "mine"})
    with CaptureQueriesContext(connection) as thread_many:
        client.get(thread_url)
    # The rows poll: the member's session user, the rows, and the counts with the tab's in one statement.
    assert len(_statements(rows_many)) == len(_statements(rows_one)) == 3, _statements(rows_many)
    # The thread poll: the session user, the case, and the thread with the tab's count in one round trip.
    assert len(_statements(thread_many)) == len(_statements(thread_one)) == 3, _statements(thread_many)
    assert not [q for q in _statements(thread_many) if q.lstrip().upper().startswith("UPDATE")]


def test_the_tab_title_stops_counting_at_99(kit_a):
    from inbox.selectors import TAB_COUNT_CAP, TabCount

    assert TAB_COUNT_CAP == 99
    assert TabCount(unread=3, claimable=4).shown == "7"
    assert TabCount(unread=99, claimable=0).shown == "99+"  # the part stopped counting at the cap
    assert TabCount(unread=60, claimable=45).shown == "99+"
