import re

import pytest

from inbox.models import Case
from inbox.services import case_status_change
from surveys.services import survey_config_ensure

LINK = re.compile(r"/s/([A-Za-z0-9_-]{20,})")


@pytest.fixture
def surveys_a(kit_a):
    return survey_config_ensure(tenant=kit_a.tenant, delay_minutes=0, quiet_days=30)


def resolve(kit, case: Case) -> Case:
    return case_status_change(tenant=kit.tenant, membership=kit.supervisor, case=case, new_status="resolved")


def sent_tokens(simulator) -> list[str]:
    return [m.group(1) for s in simulator.sent if s["kind"] == "dm" for m in [LINK.search(s["text"])] if m]
