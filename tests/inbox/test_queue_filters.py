from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from inbox.models import Case, Note, Tag
from inbox.selectors import QueueFilters, case_queue

from ..conftest import login
from ..factories import open_case


def _protocols(kit, view="all", **filters):
    return {c.protocol for c in case_queue(kit.tenant, kit.supervisor, view, QueueFilters(**filters))}


def test_full_text_search_finds_stemmed_portuguese_and_english_words(kit_a):
    billing = open_case(kit_a, "Fui cobrado duas vezes, cobranças indevidas na fatura", author_id="1")
    outage = open_case(kit_a, "My internet keeps dropping, it's not working", author_id="2")
    assert _protocols(kit_a, q="cobrança") == {billing.protocol}
    assert _protocols(kit_a, q="drop") == {outage.protocol}
    assert _protocols(kit_a, q=billing.protocol) == {billing.protocol}


def test_search_reads_internal_notes_and_handles(kit_a):
    case = open_case(kit_a, "sem sinal", author_id="3", handle="marcia_rj")
    open_case(kit_a, "sem internet", author_id="4", handle="outro")
    Note.objects.create(tenant=kit_a.tenant, case=case, text="cliente VIP, contrato empresarial")
    assert _protocols(kit_a, q="empresarial") == {case.protocol}
    assert _protocols(kit_a, q="@marcia_rj") == {case.protocol}


def test_filters_narrow_the_queue(kit_a):
    private = open_case(kit_a, "meu telefone é (11) 98765-4321, não funciona", author_id="5")
    urgent = open_case(kit_a, "sem internet, vou no Procon!", author_id="6")
    tag = Tag.objects.create(tenant=kit_a.tenant, name="fibra")
    urgent.tags.add(tag)
    assert _protocols(kit_a, personal_data=True) == {private.protocol}
    assert _protocols(kit_a, min_priority=80) == {urgent.protocol}
    assert _protocols(kit_a, tag=tag.pk) == {urgent.protocol}
    assert _protocols(kit_a, category="complaint") == {private.protocol, urgent.protocol}
    Case.objects.filter(pk=urgent.pk).update(first_response_due=timezone.now() - timedelta(minutes=1))
    assert _protocols(kit_a, sla="overdue") == {urgent.protocol}
    assert _protocols(kit_a, status="resolved") == set()


def test_the_queue_page_keeps_its_filters_in_the_live_refresh(kit_a):
    case = open_case(kit_a, "cobrança indevida", author_id="7")
    open_case(kit_a, "sem sinal nenhum", author_id="8")
    client = login(kit_a.supervisor)  # *All open* is a supervisor's view
    page = client.get(reverse("inbox:queue", args=["acme"]), {"view": "all", "q": "cobrança"})
    assert case.protocol.encode() in page.content and page.content.count(b'class="case-row') == 1
    assert b"q=cobran%C3%A7a" in page.content  # the htmx poll asks for the same filtered rows
    rows = client.get(reverse("inbox:queue_rows", args=["acme"]), {"view": "all", "q": "cobrança"})
    assert rows.content.count(b'class="case-row') == 1


def test_search_never_crosses_tenants(kit_a, kit_b):
    open_case(kit_a, "cobrança indevida da Acme", author_id="9")
    assert _protocols(kit_b, q="cobrança") == set()


def test_the_sla_filters_look_at_the_resolution_too(kit_a):
    now = timezone.now()
    answered_but_late = open_case(kit_a, "sem internet há dias, não funciona", author_id="11")
    resolving_soon = open_case(kit_a, "fatura errada, cobrança indevida", author_id="12")
    first_soon = open_case(kit_a, "sem sinal no bairro, não funciona", author_id="13")
    on_time = open_case(kit_a, "quero mudar de plano", author_id="14")
    far = now + timedelta(hours=5)
    Case.objects.filter(tenant=kit_a.tenant).update(first_response_due=far, resolution_due=far)
    # Answered on time, but its resolution is late: overdue all the same.
    Case.objects.filter(pk=answered_but_late.pk).update(first_response_at=now - timedelta(hours=1),
                                                        resolution_due=now - timedelta(minutes=5))
    Case.objects.filter(pk=resolving_soon.pk).update(first_response_at=now - timedelta(hours=1),
                                                     resolution_due=now + timedelta(minutes=10))
    Case.objects.filter(pk=first_soon.pk).update(first_response_due=now + timedelta(minutes=10))
    # Waiting on the customer: the resolution clock is stopped (no due time), the case is in neither list.
    Case.objects.filter(pk=on_time.pk).update(first_response_at=now, resolution_due=None)
    assert _protocols(kit_a, sla="overdue") == {answered_but_late.protocol}
    assert _protocols(kit_a, sla="soon") == {resolving_soon.protocol, first_soon.protocol}
