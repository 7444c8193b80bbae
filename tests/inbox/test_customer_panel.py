"""The case page's customer panel: who they are (name, handle linked to their profile, followers, verified) and
their earlier cases with how each ended, newest first."""

import pytest
from django.urls import reverse

from channels_ingest.models import SocialProfile
from inbox.models import Case

from ..conftest import login
from ..factories import open_case

pytestmark = pytest.mark.django_db


def _page(kit, case) -> str:
    return login(kit.supervisor).get(reverse("inbox:case", args=[kit.tenant.slug, case.pk])).content.decode()


def test_the_panel_shows_who_the_customer_is(kit_a):
    case = open_case(kit_a, author_id="777", handle="ana_souza", followers=15320)
    SocialProfile.objects.filter(pk=case.customer_id).update(verified=True, name="Ana Souza",
                                                             profile_url="https://x.com/ana_souza")
    page = _page(kit_a, case)
    assert "<strong>Ana Souza</strong>" in page
    assert '<a href="https://x.com/ana_souza" rel="noopener" target="_blank">@ana_souza</a>' in page
    assert "15320 followers" in page and '<span class="badge">verified</span>' in page


def test_earlier_cases_are_listed_newest_first_with_their_outcome(kit_a):
    first = open_case(kit_a, "A internet caiu, não funciona!", author_id="778", handle="bia")
    Case.objects.filter(pk=first.pk).update(status=Case.Status.CLOSED)
    second = open_case(kit_a, "De novo sem sinal, absurdo!", author_id="778", handle="bia")
    Case.objects.filter(pk=second.pk).update(status=Case.Status.CLOSED)
    current = open_case(kit_a, "Terceira vez que a internet cai, absurdo, não funciona!", author_id="778", handle="bia")
    assert len({first.pk, second.pk, current.pk}) == 3
    Case.objects.filter(pk=second.pk).update(status=Case.Status.RESOLVED)  # its outcome, as the panel shows it
    page = _page(kit_a, current)
    earlier = page[page.index('id="earlier-cases"'):]
    earlier = earlier[:earlier.index("</ul>")]
    assert earlier.index(second.protocol) < earlier.index(first.protocol)  # newest first
    assert "Resolved" in earlier and "Closed" in earlier and current.protocol not in earlier
    assert "Only the 10 most recent" not in page


def test_a_long_history_says_only_the_latest_are_listed(kit_a):
    cases = []
    for n in range(12):
        case = open_case(kit_a, f"Sem internet de novo, chamado {n}, não funciona!", author_id="779", handle="caio")
        Case.objects.filter(pk=case.pk).update(status=Case.Status.CLOSED)
        cases.append(case)
    current = open_case(kit_a, "Mais uma vez sem sinal, absurdo!", author_id="779", handle="caio")
    page = _page(kit_a, current)
    earlier = page[page.index('id="earlier-cases"'):page.index("Only the 10 most recent")]
    assert earlier.count("<li>") == 10 and cases[-1].protocol in earlier and cases[0].protocol not in earlier
