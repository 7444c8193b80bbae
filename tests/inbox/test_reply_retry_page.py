"""A failed send shows the network's error and a Send again button on the case page; pressing it sends the
reply once, as the same row, and a second press sends nothing more."""

import pytest
from django.urls import reverse

from inbox.models import Reply
from inbox.services import case_claim_next, reply_create

from ..conftest import login
from ..factories import open_case

pytestmark = pytest.mark.django_db


def test_a_failed_reply_shows_the_networks_error_and_is_sent_once_by_send_again(
        kit_a, django_capture_on_commit_callbacks):
    case = open_case(kit_a)
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case.refresh_from_db()
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Vamos resolver, Ana!",
                         visibility="public", idempotency_key="retry-page-1")
    # What the outbound task leaves after the network refused the post for good.
    Reply.objects.filter(pk=reply.pk).update(state=Reply.State.FAILED, attempts=1,
                                             error="X answered 403: You are not allowed to create a Tweet")
    client = login(kit_a.agent)
    page = client.get(reverse("inbox:case", args=[kit_a.tenant.slug, case.pk])).content.decode()
    assert "X answered 403: You are not allowed to create a Tweet" in page
    assert f'data-retry="{reply.pk}"' in page and "Send again" in page

    retry = reverse("inbox:reply_retry", args=[kit_a.tenant.slug, case.pk, reply.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry)
    assert response.status_code in (200, 302)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT and reply.external_id and reply.error == ""
    assert [s["text"] for s in kit_a.simulator.sent].count("Vamos resolver, Ana!") == 1
    page = client.get(reverse("inbox:case", args=[kit_a.tenant.slug, case.pk])).content.decode()
    assert f'data-retry="{reply.pk}"' not in page and 'data-reply-state="sent"' in page

    # A second press (a stale tab): refused, nothing posted again.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(retry)
    assert [s["text"] for s in kit_a.simulator.sent].count("Vamos resolver, Ana!") == 1


def test_only_the_assignee_or_a_supervisor_can_send_again(kit_a):
    case = open_case(kit_a)
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case.refresh_from_db()
    reply = reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Oi", visibility="public",
                         idempotency_key="retry-page-2")
    Reply.objects.filter(pk=reply.pk).update(state=Reply.State.FAILED, attempts=1, error="X answered 403")
    login(kit_a.agent2).post(reverse("inbox:reply_retry", args=[kit_a.tenant.slug, case.pk, reply.pk]))
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED
