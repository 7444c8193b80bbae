"""On the real broker: the invitation and the CRM push travel through their own queues to a Redis worker."""

import pytest
from django.core.cache import cache

from crm_bridge.adapters import Identity, adapter_for
from crm_bridge.fake_crm import FakeCrmServer
from crm_bridge.models import CrmPush
from crm_bridge.services import HUBSPOT_PRESET, crm_config_ensure, identity_link
from inbox.services import case_status_change
from surveys.models import SurveyInvitation
from surveys.services import survey_config_ensure
from tests.factories import open_case
from tests.test_celery_worker import _wait_for, redis_worker  # noqa: F401  (the fixture)


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_redis_sends_the_invitation_and_pushes_the_summary_once(kit_a, redis_worker):  # noqa: F811
    crm = FakeCrmServer(port=0).start()
    cache.clear()
    try:
        survey_config_ensure(tenant=kit_a.tenant, delay_minutes=0)
        crm_config_ensure(tenant=kit_a.tenant, kind="rest", base_url=crm.base_url,
                          auth_header={"name": "Authorization", "value": "Bearer t"}, **HUBSPOT_PRESET)
        case = open_case(kit_a, "@acme via worker: sem internet de novo! meu email é carol@example.com.br",
                         author_id="5150", handle="carolw")
        identity_link(tenant=kit_a.tenant, membership=kit_a.agent, profile=case.customer,
                      record=adapter_for(kit_a.tenant.pk).lookup(Identity("email", "carol@example.com.br")))
        case_status_change(tenant=kit_a.tenant, membership=kit_a.supervisor, case=case, new_status="resolved")
        _wait_for(lambda: SurveyInvitation.objects.filter(case=case, state="sent").exists())
        _wait_for(lambda: CrmPush.objects.filter(case=case, state="sent").exists())
        assert len([s for s in kit_a.simulator.sent if s["kind"] == "dm"]) == 1
        assert len(crm.pushes) == 1
    finally:
        crm.stop()
