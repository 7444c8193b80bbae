"""Ignored noise is recoverable by the brand's own supervisors (the specification: "ignored for noise
(recoverable)"): the "Ignored" page lists what triage ignored and the cases set to ignored, and "Open a case"
turns a mention into a case (or into the customer's open one) and teaches triage."""

import pytest
from django.urls import reverse

from channels_ingest.models import Mention
from inbox.models import Case, CaseMention, MentionTriage, TriageCorrection
from inbox.services import (
    CaseActionError,
    case_claim_next,
    case_status_change,
    ignored_mention_open_case,
    mentions_triage,
)
from sac.models import AuditEvent

from ..conftest import login
from ..factories import ingest, mention_item, open_case

NOISE = "kkkkkk meme"


def _ignored(kit, text: str = NOISE, **kwargs) -> Mention:
    stored = ingest(kit.channel, [mention_item(text, **kwargs)])
    assert mentions_triage(tenant_id=kit.tenant.pk, mention_ids=stored.stored_ids) == []
    mention = Mention.objects.get(pk=stored.stored_ids[0])
    assert MentionTriage.objects.get(tenant=kit.tenant, mention=mention).ignored
    return mention


def test_supervisors_see_the_ignored_mentions_newest_first_with_why(kit_a):
    older = _ignored(kit_a, "kkkkkk meme", handle="ana", author_id="1")
    newer = _ignored(kit_a, "bom dia grupo 🌞", handle="bia", author_id="2")
    page = login(kit_a.supervisor).get(reverse("inbox:ignored", args=["acme"])).content.decode()
    assert page.index(f'data-mention="{newer.pk}"') < page.index(f'data-mention="{older.pk}"')
    assert "kkkkkk meme" in page and "@ana" in page and "@acme on X" in page
    assert "no answer needed" in page  # triage's reason
    assert f'data-open-case="{older.pk}"' in page


@pytest.mark.parametrize("role", ["agent", "agent2"])
def test_agents_have_no_ignored_page(kit_a, role):
    _ignored(kit_a)
    client = login(getattr(kit_a, role))
    assert client.get(reverse("inbox:ignored", args=["acme"])).status_code == 403


def test_open_a_case_turns_the_mention_into_a_case_and_a_training_example(kit_a):
    mention = _ignored(kit_a, handle="ana", author_id="1")
    client = login(kit_a.supervisor)
    response = client.post(reverse("inbox:ignored_open_case", args=["acme", mention.pk]), {"category": "question"})
    case = Case.objects.get(tenant=kit_a.tenant, case_mentions__mention=mention)
    assert response.status_code == 302 and response["Location"] == reverse("inbox:case", args=["acme", case.pk])
    assert case.status == Case.Status.NEW and case.assignee_id is None and case.category == "question"
    assert case.subject == NOISE and case.customer.handle == "ana"
    assert case.first_response_due is not None  # the SLA clock runs from the customer's message, as for any case
    opened = AuditEvent.objects.get(tenant=kit_a.tenant, verb="case.opened", object_id=str(case.pk))
    assert opened.actor_id == kit_a.supervisor.user_id and opened.data["how"] == "recovered"
    correction = TriageCorrection.objects.get(tenant=kit_a.tenant, mention=mention)
    assert correction.requires_response and correction.category == "question" and correction.case_id == case.pk
    assert correction.original["requires_response"] is False
    assert correction.corrected_by_id == kit_a.supervisor.user_id
    triage_row = MentionTriage.objects.get(tenant=kit_a.tenant, mention=mention)
    assert not triage_row.ignored and triage_row.case_id == case.pk
    # Off the ignored list, into the queue.
    assert f'data-mention="{mention.pk}"' not in client.get(reverse("inbox:ignored", args=["acme"])).content.decode()
    assert case.protocol in login(kit_a.agent).get(reverse("inbox:queue", args=["acme"]),
                                                   {"view": "unassigned"}).content.decode()


def test_it_joins_the_customers_open_case_instead_of_opening_a_second(kit_a):
    # Ignored first; the customer's complaint a moment later opened a case (a message from a customer with an open
    # case joins it whatever triage says, so the order matters).
    mention = _ignored(kit_a, "kkkkkk", author_id="7")
    case = open_case(kit_a, "sem internet desde ontem", author_id="7")
    recovered = ignored_mention_open_case(tenant=kit_a.tenant, membership=kit_a.supervisor, mention_id=mention.pk)
    assert recovered.pk == case.pk
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 1
    assert set(CaseMention.objects.filter(case=case).values_list("mention_id", flat=True)) >= {mention.pk}
    assert AuditEvent.objects.filter(tenant=kit_a.tenant, verb="case.mention_attached", object_id=str(case.pk),
                                     data__how="recovered").exists()


def test_a_second_click_opens_no_second_case(kit_a):
    mention = _ignored(kit_a)
    client = login(kit_a.supervisor)
    url = reverse("inbox:ignored_open_case", args=["acme", mention.pk])
    client.post(url)
    again = client.post(url, follow=True)
    assert b"This mention is no longer ignored: it is already in a case." in again.content
    assert Case.objects.filter(tenant=kit_a.tenant).count() == 1


def test_only_supervisors_recover_and_the_category_must_be_the_tenants(kit_a):
    mention = _ignored(kit_a)
    with pytest.raises(CaseActionError, match="Only supervisors"):
        ignored_mention_open_case(tenant=kit_a.tenant, membership=kit_a.agent, mention_id=mention.pk)
    with pytest.raises(CaseActionError, match="Unknown category"):
        ignored_mention_open_case(tenant=kit_a.tenant, membership=kit_a.supervisor, mention_id=mention.pk,
                                  category="no-such")
    assert not Case.objects.filter(tenant=kit_a.tenant).exists()


def test_another_tenant_neither_sees_nor_recovers_them(kit_a, kit_b):
    mention = _ignored(kit_a, "kkkkkk meme da acme")
    client = login(kit_b.supervisor)
    page = client.get(reverse("inbox:ignored", args=["beta"])).content.decode()
    assert "meme da acme" not in page and f'data-mention="{mention.pk}"' not in page
    assert client.post(reverse("inbox:ignored_open_case", args=["beta", mention.pk])).status_code == 404
    # Its own brand's URL is not theirs either.
    assert client.get(reverse("inbox:ignored", args=["acme"])).status_code == 404
    with pytest.raises(CaseActionError):
        ignored_mention_open_case(tenant=kit_b.tenant, membership=kit_b.supervisor, mention_id=mention.pk)
    assert not Case.objects.exists()
    assert MentionTriage.objects.get(mention=mention).ignored


def test_cases_set_to_ignored_are_listed_masked_and_reopen(kit_a, kit_b):
    open_case(kit_a, "meu telefone é (21) 99876-5432, sem internet", author_id="1")
    case = case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status=Case.Status.IGNORED)
    client = login(kit_a.supervisor)
    page = client.get(reverse("inbox:ignored", args=["acme"])).content.decode()
    assert case.protocol in page and f'data-reopen="{case.pk}"' in page
    assert "99876-5432" not in page and "••••" in page
    assert case.protocol not in login(kit_b.supervisor).get(reverse("inbox:ignored", args=["beta"])).content.decode()

    client.post(reverse("inbox:case_status", args=["acme", case.pk]), {"status": "open"})
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN
    client.get(reverse("inbox:case", args=["acme", case.pk]))  # (shows the "is now open" message)
    assert f'data-reopen="{case.pk}"' not in client.get(reverse("inbox:ignored", args=["acme"])).content.decode()
