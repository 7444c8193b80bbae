"""sac.bulk.rows_update: the hot path's many-row UPDATE (batch triage writes the cases a page attached to)."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.models import Case
from sac.bulk import rows_update
from tests.factories import open_case

pytestmark = pytest.mark.django_db


def test_it_writes_every_column_kind_and_only_the_tenants_rows(kit_a, kit_b):
    ours = [open_case(kit_a, f"sem sinal no bairro {i}, absurdo!", author_id=str(100 + i)) for i in range(3)]
    theirs = open_case(kit_b, "sem sinal no centro, absurdo!", author_id="900")
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    for i, case in enumerate(ours):
        case.last_customer_message_at, case.priority = at, 90 + i
        case.personal_data = ["phone", "email"] if i else []
        case.status, case.resolved_at = Case.Status.OPEN, None
    # Another tenant's row with the caller's id travels with the wrong tenant: it must stay as it is.
    impostor = Case(pk=theirs.pk, tenant_id=kit_a.tenant.pk, last_customer_message_at=at, priority=1,
                    personal_data=["cpf"], status=Case.Status.CLOSED, resolved_at=at)
    fields = ["last_customer_message_at", "priority", "personal_data", "status", "resolved_at"]

    assert rows_update(Case, [*ours, impostor], fields, tenant_id=kit_a.tenant.pk) == 3

    for i, case in enumerate(ours):
        case.refresh_from_db()
        assert (case.last_customer_message_at, case.priority, case.status, case.resolved_at) == \
               (at, 90 + i, Case.Status.OPEN, None)
        assert case.personal_data == (["phone", "email"] if i else [])
    before = (theirs.priority, theirs.status, theirs.personal_data)
    theirs.refresh_from_db()
    assert (theirs.priority, theirs.status, theirs.personal_data) == before


def test_its_statement_is_the_same_whatever_the_number_of_rows(kit_a):
    """One text for every page: psycopg parses it once (it re-parses statements over 4 KB on every call)."""
    cases = [open_case(kit_a, f"fatura errada {i}, quero estorno!", author_id=str(200 + i)) for i in range(3)]
    texts = []
    for objs in (cases[:1], cases):
        with CaptureQueriesContext(connection) as queries:
            rows_update(Case, objs, ["priority"], tenant_id=kit_a.tenant.pk)
        texts.append(queries.captured_queries[-1]["sql"])
    if connection.vendor == "postgresql":
        shape = [text.split(" FROM unnest(")[0] for text in texts]
        assert shape[0] == shape[1] and len(texts[1]) - len(texts[0]) < 40
