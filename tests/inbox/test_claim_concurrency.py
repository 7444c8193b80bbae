"""Two agents pressing "Take next case" at the same moment, on two real PostgreSQL connections."""

import threading

import pytest
from django.db import connection

from inbox.models import Case
from inbox.services import case_claim_next

from ..factories import open_case


@pytest.mark.django_db(transaction=True)
def test_two_agents_claiming_at_once_never_get_the_same_case(kit_a):
    for i in range(6):
        open_case(kit_a, f"sem internet, não funciona #{i}", author_id=str(1000 + i))

    for _round in range(3):
        barrier = threading.Barrier(2)
        results: dict[str, int | None] = {}
        errors: list[BaseException] = []

        def claim(membership, name: str, barrier=barrier, results=results, errors=errors) -> None:
            try:
                barrier.wait(timeout=10)
                case = case_claim_next(tenant=kit_a.tenant, membership=membership)
                results[name] = case.pk if case else None
            except BaseException as exc:  # surfaced below: a thread's exception would be lost
                errors.append(exc)
            finally:
                connection.close()  # each thread has its own connection; close it before the DB is flushed

        threads = [threading.Thread(target=claim, args=(kit_a.agent, "one")),
                   threading.Thread(target=claim, args=(kit_a.agent2, "two"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not errors, errors
        assert results["one"] is not None and results["two"] is not None, results
        assert results["one"] != results["two"]

    assignees = list(Case.objects.filter(tenant=kit_a.tenant).values_list("assignee__username", flat=True))
    assert sorted(assignees) == sorted(["acme-agent"] * 3 + ["acme-agent2"] * 3)
