"""The UI's language in a real browser: a pt-BR brand's inbox in Portuguese, English one click away."""

import pytest
from playwright.sync_api import expect

from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_agent_switches_a_portuguese_inbox_to_english_and_it_stays(live_server, page, kit_a):
    kit_a.tenant.locale = "pt-br"
    kit_a.tenant.save(update_fields=["locale"])
    browser_login(page, live_server.url, "acme-agent")
    expect(page.locator("#claim-next")).to_contain_text("Pegar próximo caso")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")

    page.click("#lang-switch [data-language=en]")
    expect(page.locator("#claim-next")).to_contain_text("Take next case")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()  # the pick is remembered (a cookie), and the header offers Portuguese back
    expect(page.locator("#claim-next")).to_contain_text("Take next case")
    expect(page.locator("#lang-switch [data-language=pt-br]")).to_have_text("Português (Brasil)")
