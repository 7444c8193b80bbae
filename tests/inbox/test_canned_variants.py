"""Personal canned replies, per-channel / per-network variants, usage counts and the tenant's contact variables."""

import pytest
from django.urls import reverse

from channels_ingest.models import Platform
from channels_ingest.services import channel_create
from inbox.models import CannedReply
from inbox.selectors import canned_picker, canned_render
from inbox.services import CaseActionError, canned_reply_save, case_claim_next, inbox_settings_save, reply_create

from ..conftest import login
from ..factories import open_case


def _case(kit):
    case = open_case(kit)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    return case


def _bank(kit, shortcut, body, **kwargs):
    return canned_reply_save(tenant=kit.tenant, membership=kit.admin, canned=None, title=shortcut.title(),
                             shortcut=shortcut, body=body, **kwargs)


def test_the_picker_offers_the_variant_for_the_cases_channel_and_language(kit_a):
    case = _case(kit_a)  # a Portuguese case on the simulator (X-shaped) channel
    _bank(kit_a, "oi", "Olá (any)")
    _bank(kit_a, "oi", "Olá (pt)", language="pt")
    _bank(kit_a, "oi", "Hi (en)", language="en")
    _bank(kit_a, "oi", "Olá (X)", platform="simulator")
    _bank(kit_a, "fb", "Só no Facebook", platform="facebook")
    picked = canned_picker(kit_a.tenant, case, kit_a.agent.user)
    assert [c.body for c in picked["bank"]] == ["Olá (X)"]
    _bank(kit_a, "oi", "Olá (this channel)", channel=kit_a.channel)
    picked = canned_picker(kit_a.tenant, case, kit_a.agent.user)
    assert [c.body for c in picked["bank"]] == ["Olá (this channel)"]


def test_a_variant_appears_once_per_combination(kit_a):
    _bank(kit_a, "oi", "Olá", language="pt")
    with pytest.raises(CaseActionError, match="already has a reply for language pt"):
        _bank(kit_a, "oi", "Olá de novo", language="pt")
    other = channel_create(tenant=kit_a.tenant, platform=Platform.FACEBOOK, name="Acme FB", external_account_id="p1")
    _bank(kit_a, "oi", "Olá FB", language="pt", channel=other)
    with pytest.raises(CaseActionError, match="channel Acme FB"):
        _bank(kit_a, "oi", "Olá FB 2", language="pt", channel=other)


def test_personal_replies_are_seen_only_by_their_owner(kit_a):
    case = _case(kit_a)
    _bank(kit_a, "oi", "Do banco")
    mine = canned_reply_save(tenant=kit_a.tenant, membership=kit_a.agent, canned=None, title="Meu jeito",
                             shortcut="meu", body="Oi {{customer.first_name}}, aqui é {{agent.first_name}}!",
                             personal=True)
    picked = canned_picker(kit_a.tenant, case, kit_a.agent.user)
    assert [c.shortcut for c in picked["mine"]] == ["meu"] and [c.shortcut for c in picked["bank"]] == ["oi"]
    assert canned_picker(kit_a.tenant, case, kit_a.agent2.user)["mine"] == []

    owner, colleague, admin = login(kit_a.agent), login(kit_a.agent2), login(kit_a.admin)
    page = owner.get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert '<optgroup label="My replies">' in page and "/meu · Meu jeito" in page
    assert "Meu jeito" in owner.get(reverse("inbox:my_canned", args=["acme"])).content.decode()
    assert "Meu jeito" not in colleague.get(reverse("inbox:my_canned", args=["acme"])).content.decode()
    assert "Meu jeito" not in admin.get(reverse("inbox:canned_list", args=["acme"])).content.decode()
    assert colleague.get(reverse("inbox:my_canned_edit", args=["acme", mine.pk])).status_code == 404
    assert colleague.post(reverse("inbox:my_canned_delete", args=["acme", mine.pk])).status_code == 404
    assert colleague.get(reverse("inbox:canned_render", args=["acme", case.pk, mine.pk])).status_code == 404
    assert admin.get(reverse("inbox:canned_edit", args=["acme", mine.pk])).status_code == 404
    rendered = owner.get(reverse("inbox:canned_render", args=["acme", case.pk, mine.pk])).content.decode()
    assert "Oi Cliente, aqui é Agent!" in rendered
    with pytest.raises(CaseActionError, match="your own"):
        canned_reply_save(tenant=kit_a.tenant, membership=kit_a.agent2, canned=mine, title="x", shortcut="meu",
                          body="roubado", personal=True)


def test_an_agent_manages_their_replies_from_my_replies(kit_a):
    client = login(kit_a.agent)
    response = client.post(reverse("inbox:my_canned_new", args=["acme"]), {
        "title": "Despedida", "shortcut": "tchau", "language": "pt", "platform": "", "body": "Até mais!"},
        follow=True)
    assert "Canned reply saved." in response.content.decode()
    canned = CannedReply.objects.get(tenant=kit_a.tenant, shortcut="tchau")
    assert canned.owner == kit_a.agent.user
    client.post(reverse("inbox:my_canned_delete", args=["acme", canned.pk]))
    assert not CannedReply.objects.filter(pk=canned.pk).exists()
    # A channel that is not the tenant's is not a valid choice, and the form says so instead of failing.
    bad = client.post(reverse("inbox:my_canned_new", args=["acme"]), {
        "title": "X", "shortcut": "x", "body": "y", "channel": "999999"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()


def test_usage_counts_go_up_and_are_shown(kit_a):
    case = _case(kit_a)
    canned = _bank(kit_a, "desculpas", "Sentimos muito.")
    reply_create(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="Sentimos muito.", visibility="public",
                 idempotency_key="u1", canned_reply=canned)
    canned.refresh_from_db()
    assert canned.usage_count == 1
    page = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert "/desculpas used 1×" in page


def test_the_tenants_other_channels_are_canned_variables(kit_a):
    case = _case(kit_a)
    canned = _bank(kit_a, "contato", "Fale com a gente: {{tenant.email}}, {{tenant.phone}} ou {{tenant.chat_url}}")
    # Not configured yet: the variables stay visible, so the agent notices before sending.
    assert "{{tenant.email}}" in canned_render(canned, case=case, agent=kit_a.agent.user)
    response = login(kit_a.admin).post(reverse("inbox:inbox_settings", args=["acme"]), {
        "contact_email": "sac@acme.example", "contact_phone": "0800 123 4567", "chat_url": "chat.acme.example"},
        follow=True)
    assert "Inbox settings saved." in response.content.decode()
    assert canned_render(canned, case=case, agent=kit_a.agent.user) == (
        "Fale com a gente: sac@acme.example, 0800 123 4567 ou https://chat.acme.example")
    bad = login(kit_a.admin).post(reverse("inbox:inbox_settings", args=["acme"]), {"contact_email": "não é e-mail"})
    assert bad.status_code == 400 and "Enter a valid email address" in bad.content.decode()
    assert login(kit_a.agent).get(reverse("inbox:inbox_settings", args=["acme"])).status_code == 403
    with pytest.raises(CaseActionError):
        inbox_settings_save(tenant=kit_a.tenant, membership=kit_a.agent, contact_email="x@y.z")


def test_csv_rows_may_name_a_network(kit_a):
    from inbox.services import canned_replies_import_csv

    result = canned_replies_import_csv(tenant=kit_a.tenant, membership=kit_a.admin, text=(
        "shortcut,title,language,body,platform\noi,Oi,pt,Olá!,\noi,Oi X,pt,Olá no X!,x\noi,Oi?,pt,?,myspace\n"))
    assert (result.created, result.updated) == (2, 0) and "myspace" in result.errors[0]
    assert set(CannedReply.objects.filter(tenant=kit_a.tenant).values_list("platform", flat=True)) == {"", "x"}
