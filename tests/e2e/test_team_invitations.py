"""A tenant admin invites someone from the Team page; the invitee opens the link in the e-mail in their own
browser, chooses a password and lands in the brand's inbox as a member of the invited team."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from sac.models import Membership, Role
from sac.services import team_create

from .conftest import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_invites_someone_who_sets_a_password_and_lands_in_the_inbox(live_server, browser, page, kit_a,
                                                                             settings):
    settings.SAC_PUBLIC_BASE_URL = live_server.url  # the e-mail's link points at this server
    mail.outbox = []
    fibra = team_create(tenant=kit_a.tenant, actor=kit_a.admin, name="Fibra")

    browser_login(page, live_server.url, "acme-admin")
    page.click("#nav-team")
    form = page.locator("#invite-form")
    form.locator("input[name=email]").fill("Nova.Agente@Example.com")
    form.locator("input[name=name]").fill("Nova Agente")
    form.locator("select[name=role]").select_option(Role.AGENT)
    form.locator(f"input[name=teams][value='{fibra.pk}']").check()
    form.locator("select[name=language]").select_option("pt-br")  # the invitee reads Portuguese
    form.locator("button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text("Invitation sent to nova.agente@example.com")
    expect(page.locator("tr[data-invitation='nova.agente@example.com']")).to_contain_text("Fibra")

    [message] = mail.outbox
    assert message.to == ["nova.agente@example.com"] and "convidou você" in message.subject
    [link] = re.findall(r"https?://\S+/invite/\S+/", message.body)
    assert link.startswith(live_server.url)

    # The invitee, in a browser of their own (no session).
    context = browser.new_context(viewport={"width": 1360, "height": 860}, locale="pt-BR")
    invitee = context.new_page()
    invitee.set_default_timeout(15_000)
    try:
        invitee.goto(link)
        expect(invitee.locator("h1")).to_have_text("Entrar em Acme Telecom")
        expect(invitee.locator("#invitation")).to_contain_text("nova.agente@example.com")
        invitee.fill("#invitation-form input[name=password1]", "Cafe-com-leite-42")
        invitee.fill("#invitation-form input[name=password2]", "Cafe-com-leite-42")
        invitee.click("#invitation-form button[type=submit]")
        invitee.wait_for_url("**/t/acme/")
        expect(invitee.locator(".messages")).to_contain_text("Welcome to Acme Telecom.")  # the brand's pages: English
        expect(invitee.locator(".who")).to_contain_text("nova.agente@example.com")
        expect(invitee.locator("#claim-next")).to_be_visible()
    finally:
        context.close()

    member = Membership.objects.get(tenant=kit_a.tenant, user__username="nova.agente@example.com")
    assert member.role == Role.AGENT and list(member.teams.all()) == [fibra]
    page.reload()
    expect(page.locator("tr[data-member='nova.agente@example.com']")).to_contain_text("Fibra")
    expect(page.locator("tr[data-invitation='nova.agente@example.com']")).to_have_count(0)
