"""The UI in pt-BR and English: the user's pick, else the brand's locale, else Accept-Language, else pt-BR."""

import gettext
import re
from pathlib import Path

from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from inbox.services import case_claim_next

from ..conftest import login
from ..factories import open_case

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "pt_BR" / "LC_MESSAGES"


def _portuguese(kit) -> None:
    kit.tenant.locale = "pt-br"
    kit.tenant.save(update_fields=["locale"])


def _claimed_case(kit):
    case = open_case(kit, "@acmetelecom sem internet há 2 dias, ninguém resolve!")
    assert case_claim_next(tenant=kit.tenant, membership=kit.agent) == case
    return case


def test_it_shows_the_queue_and_case_page_in_portuguese_for_a_pt_br_brand(kit_a):
    _portuguese(kit_a)
    case = _claimed_case(kit_a)
    client = login(kit_a.agent)

    # A browser asking for English still gets the brand's language until the user picks one.
    queue = client.get(reverse("inbox:queue", args=["acme"]), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    body = queue.content.decode()
    assert "Pegar próximo caso" in body and "Take next case" not in body
    assert "Caixa de entrada" in body and "Meus casos" in body and "Protocolo" in body
    assert '<html lang="pt-br">' in body and queue["Content-Language"] == "pt-br"

    page = client.get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    for text in ("Enviar", "Resposta pública", "Mensagem privada", "Resolver", "Nota interna", "Primeira resposta"):
        assert text in page, text
    assert ">Send<" not in page and ">Resolve<" not in page


def test_the_users_pick_in_the_header_beats_the_brands_language(kit_a):
    _portuguese(kit_a)
    case = _claimed_case(kit_a)
    client = login(kit_a.agent)
    queue_url = reverse("inbox:queue", args=["acme"])
    assert 'data-language="en"' in client.get(queue_url).content.decode()  # the switcher offers English

    picked = client.post(reverse("set_language"), {"language": "en", "next": queue_url})
    assert picked.status_code == 302 and picked["Location"] == queue_url

    body = client.get(queue_url).content.decode()
    assert "Take next case" in body and "Pegar próximo caso" not in body
    assert 'data-language="pt-br"' in body  # and now offers Portuguese back
    page = client.get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert ">Send<" in page and "Resolve" in page


def test_messages_and_errors_follow_the_page_language(kit_a):
    _portuguese(kit_a)
    case = _claimed_case(kit_a)
    client = login(kit_a.agent)
    url = reverse("inbox:case_status", args=["acme", case.pk])

    page = client.post(url, {"status": "nonsense"}, follow=True).content.decode()
    assert "Status desconhecido." in page
    page = client.post(url, {"status": "resolved"}, follow=True).content.decode()
    assert f"O caso {case.protocol} agora está resolvido." in page
    page = client.post(url, {"status": "ignored"}, follow=True).content.decode()
    assert "Um caso com status resolvido não pode passar para ignorado." in page


def test_pages_outside_a_brand_follow_the_browser_else_portuguese(db):
    login_url = reverse("login")
    assert "Entrar no SAC" in Client().get(login_url).content.decode()
    assert "Log in to SAC" in Client().get(login_url, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8").content.decode()
    assert "Entrar no SAC" in Client().get(login_url, HTTP_ACCEPT_LANGUAGE="pt-PT,pt;q=0.9").content.decode()
    # A language SAC does not ship falls back to pt-BR, the first market's.
    assert "Entrar no SAC" in Client().get(login_url, HTTP_ACCEPT_LANGUAGE="de-DE").content.decode()


def test_an_english_brand_stays_english_for_a_portuguese_browser(kit_a):
    body = login(kit_a.agent).get(reverse("inbox:queue", args=["acme"]),
                                  HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9").content.decode()
    assert "Take next case" in body and "Pegar próximo caso" not in body


def test_another_brands_language_does_not_leak_into_mine(kit_a, kit_b):
    _portuguese(kit_a)
    # kit_b stays English; the same user agent hopping between brands sees each one's language.
    assert "Pegar próximo caso" in login(kit_a.agent).get(reverse("inbox:queue", args=["acme"])).content.decode()
    assert "Take next case" in login(kit_b.agent).get(reverse("inbox:queue", args=["beta"])).content.decode()
    # And a brand the user does not belong to is still a 404, in any language.
    assert login(kit_a.agent).get(reverse("inbox:queue", args=["beta"])).status_code == 404


def _po_entries(text: str) -> list[tuple[str, list[str]]]:
    """(msgid, its msgstr values) for each entry of a .po file, the header left out."""
    entries = []
    for block in text.split("\n\n"):
        fields: dict[str, list[str]] = {}
        key = None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            match = re.match(r"(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (\".*\")$", line)
            if match:
                key = match.group(1)
                fields[key] = [match.group(2)]
            elif line.startswith('"') and key:
                fields[key].append(line)
        joined = {k: "".join(eval(part) for part in v) for k, v in fields.items()}  # noqa: S307 (our own file)
        if joined.get("msgid"):
            entries.append((joined["msgid"], [v for k, v in joined.items() if k.startswith("msgstr")]))
    return entries


def test_every_string_in_the_catalogue_is_translated_and_compiled():
    po_text = (CATALOGUE / "django.po").read_text(encoding="utf-8")
    assert "#, fuzzy" not in po_text.split("\n\n", 1)[1], "fuzzy entries are ignored by compilemessages"
    entries = _po_entries(po_text)
    assert len(entries) > 250
    untranslated = [msgid for msgid, strs in entries if not all(strs)]
    assert untranslated == []
    # The committed .mo (the demo machine may have no gettext) holds every msgid of the .po.
    with open(CATALOGUE / "django.mo", "rb") as mo:
        catalog = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
    compiled = {key[0] if isinstance(key, tuple) else key for key in catalog}
    compiled = {key.split("\x04", 1)[-1] for key in compiled}
    missing = [msgid for msgid, _ in entries if msgid not in compiled]
    assert missing == [], "run manage.py compilemessages"


def test_a_pages_language_does_not_stay_on_the_thread(kit_a):
    """The demo runs its poller and Celery tasks in the web process: a pt-BR page must not make them Portuguese."""
    _portuguese(kit_a)
    assert "Pegar próximo caso" in login(kit_a.agent).get(reverse("inbox:queue", args=["acme"])).content.decode()
    assert "Entrar no SAC" in Client().get(reverse("login")).content.decode()
    assert translation.get_language() == "en"
    assert translation.gettext("Take next case") == "Take next case"
