from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from inbox.models import Case
from inbox.services import case_status_change
from sla.models import SLAAlert, SLAEvent, Target
from sla.services import sla_sweep
from tests.conftest import login
from tests.factories import open_case

pytestmark = pytest.mark.django_db


def test_an_agent_promises_a_window_shown_on_the_case_and_kept_when_resolved_in_time(kit_a):
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=5))
    Case.objects.filter(pk=case.pk).update(assignee=kit_a.agent.user)
    client = login(kit_a.agent)
    client.post(reverse("sla:case_promise", args=["acme", case.pk]), {"min_hours": "2", "max_hours": "6"})
    page = client.get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert "Promised: between 2 and 6 hours" in page
    case.refresh_from_db()
    case_status_change(tenant=kit_a.tenant, membership=kit_a.agent, case=case, new_status=Case.Status.RESOLVED)
    assert SLAEvent.objects.get(case=case, target=Target.PROMISE).met is True


def test_a_broken_promise_is_a_breach_for_the_sweep(kit_a):
    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=5))
    login(kit_a.supervisor).post(reverse("sla:case_promise", args=["acme", case.pk]),
                                 {"min_hours": "0", "max_hours": "1"})
    sla_sweep(now=datetime.now(UTC) + timedelta(minutes=61))
    assert SLAAlert.objects.filter(case=case, target=Target.PROMISE, level="breach").exists()
    assert SLAEvent.objects.get(case=case, target=Target.PROMISE).met is False


def test_someone_elses_case_or_a_bad_window_is_refused(kit_a, kit_b):
    case = open_case(kit_a)
    url = reverse("sla:case_promise", args=["acme", case.pk])
    login(kit_a.agent2).post(url, {"min_hours": "2", "max_hours": "6"})  # not the assignee
    login(kit_a.supervisor).post(url, {"min_hours": "8", "max_hours": "6"})
    assert login(kit_b.supervisor).post(reverse("sla:case_promise", args=["beta", case.pk]),
                                        {"min_hours": "1", "max_hours": "2"}).status_code == 404
    assert not case.sla_promises.exists()


def test_a_canned_reply_inserts_the_promise_window_of_the_case(kit_a, kit_b):
    from inbox.models import CannedReply

    case = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=5))
    other = open_case(kit_a, posted_at=datetime.now(UTC) - timedelta(minutes=5), author_id="55", handle="other")
    Case.objects.filter(pk__in=[case.pk, other.pk]).update(assignee=kit_a.agent.user, language="pt")
    canned = CannedReply.objects.create(tenant=kit_a.tenant, title="Prazo", shortcut="prazo",
                                        body="Vamos resolver {{case.promise}}. Protocolo {{case.protocol}}.")
    client = login(kit_a.agent)
    client.post(reverse("sla:case_promise", args=["acme", case.pk]), {"min_hours": "2", "max_hours": "6.5"})
    text = client.get(reverse("inbox:canned_render", args=["acme", case.pk, canned.pk])).content.decode()
    assert f"Vamos resolver entre 2 e 6,5 horas. Protocolo {case.protocol}." in text
    # No promise on this case: the variable stays visible, so the agent notices before sending.
    text = client.get(reverse("inbox:canned_render", args=["acme", other.pk, canned.pk])).content.decode()
    assert "{{case.promise}}" in text
    Case.objects.filter(pk=case.pk).update(language="en")
    text = client.get(reverse("inbox:canned_render", args=["acme", case.pk, canned.pk])).content.decode()
    assert "between 2 and 6.5 hours" in text
    # Another tenant cannot render our case with or without our canned reply.
    assert login(kit_b.agent).get(reverse("inbox:canned_render", args=["beta", case.pk, canned.pk])).status_code == 404
