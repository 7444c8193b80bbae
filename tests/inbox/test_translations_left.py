"""The last English-only texts follow the reader's language: notifications (stored as a key and values),
category labels in the queue, and the tenant-admin pages of the inbox."""

from django.urls import reverse

from inbox.models import Notification
from inbox.services import case_claim_next, note_add

from ..conftest import login
from ..factories import open_case


def _pick(client, language):
    client.post(reverse("set_language"), {"language": language, "next": "/"})


def test_a_mention_notification_reads_in_each_readers_language(kit_a):
    case = open_case(kit_a)
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    note_add(tenant=kit_a.tenant, membership=kit_a.agent, case=case, text="@acme-agent2 pode olhar este?")
    notification = Notification.objects.get(tenant=kit_a.tenant, recipient=kit_a.agent2.user)
    assert notification.message_key == "note_mention" and notification.params["protocol"] == case.protocol

    reader = login(kit_a.agent2)
    url = reverse("inbox:notifications", args=["acme"])
    _pick(reader, "pt-br")
    assert f"acme-agent mencionou você no caso {case.protocol}" in reader.get(url).content.decode()
    _pick(reader, "en")
    assert f"acme-agent mentioned you on case {case.protocol}" in reader.get(url).content.decode()


def test_a_notification_stored_before_keys_existed_still_shows_its_text(kit_a):
    Notification.objects.create(tenant=kit_a.tenant, recipient=kit_a.agent.user, text="Old words, as stored")
    reader = login(kit_a.agent)
    _pick(reader, "pt-br")
    assert "Old words, as stored" in reader.get(reverse("inbox:notifications", args=["acme"])).content.decode()


def test_the_queue_names_categories_in_the_readers_language(kit_a):
    case = open_case(kit_a, "A internet caiu de novo, não funciona nada! Péssimo serviço!")
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    case.refresh_from_db()
    assert case.category == "complaint"
    client = login(kit_a.agent)
    _pick(client, "pt-br")
    page = client.get(reverse("inbox:queue", args=["acme"])).content.decode()
    assert "<small>reclamação</small>" in page  # the row
    assert '<option value="complaint" >reclamação</option>' in page  # the filter keeps the stored value
    _pick(client, "en")
    assert "<small>complaint</small>" in client.get(reverse("inbox:queue", args=["acme"])).content.decode()


def test_the_inbox_admin_pages_speak_portuguese(kit_a):
    admin = login(kit_a.admin)
    _pick(admin, "pt-br")
    pages = {
        "inbox:canned_list": ["Respostas prontas", "Nova resposta pronta", "Exportar CSV"],
        "inbox:canned_new": ["Nova resposta pronta", "Atalho", "Vazio = qualquer idioma"],
        "inbox:inbox_settings": ["Configurações da caixa de entrada", "E-mail de contato", "Prazo para reabrir"],
        "inbox:routing_rules": ["Regras de roteamento", "Adicionar regra", "Categorias próprias da marca"],
        "inbox:triage_models": ["Versões do modelo de triagem", "Nenhum modelo treinado ainda"],
    }
    for name, texts in pages.items():
        body = admin.get(reverse(name, args=["acme"])).content.decode()
        for text in texts:
            assert text in body, (name, text)
    assert "Canned replies" not in admin.get(reverse("inbox:canned_list", args=["acme"])).content.decode()


def test_the_composer_says_where_an_image_can_go_in_portuguese(kit_a):
    case = open_case(kit_a)
    case_claim_next(tenant=kit_a.tenant, membership=kit_a.agent)
    client = login(kit_a.agent)
    _pick(client, "pt-br")
    page = client.get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert "Imagem" in page and "JPEG, PNG, GIF, WEBP; até 5 MB (GIF 15 MB)" in page
