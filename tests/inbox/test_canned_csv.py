from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inbox.models import CannedReply

from ..conftest import login

CSV = (
    "shortcut,title,language,body\n"
    "oi,Boas-vindas,pt,\"Olá, {{customer.first_name}}!\"\n"
    "/sorry,Apology,en,We're sorry.\n"
    "bad shortcut!,X,,y\n"
    "vazio,,pt,\n"
)


def test_an_admin_imports_and_exports_the_canned_reply_bank(kit_a):
    # A row updates the variant with the same shortcut, language and network.
    CannedReply.objects.create(tenant=kit_a.tenant, title="Old", shortcut="oi", language="pt", body="antigo")
    client = login(kit_a.admin)
    response = client.post(reverse("inbox:canned_import", args=["acme"]),
                           {"file": SimpleUploadedFile("bank.csv", CSV.encode("utf-8-sig"))}, follow=True)
    assert b"Imported: 1 new, 1 updated." in response.content
    assert b"line 4" in response.content and b"line 5" in response.content
    assert CannedReply.objects.get(tenant=kit_a.tenant, shortcut="oi").body == "Olá, {{customer.first_name}}!"
    assert CannedReply.objects.get(tenant=kit_a.tenant, shortcut="sorry").language == "en"

    exported = client.get(reverse("inbox:canned_export", args=["acme"]))
    assert exported["Content-Type"].startswith("text/csv")
    lines = exported.content.decode().splitlines()
    assert lines[0] == "shortcut,title,language,body,platform" and len(lines) == 3


def test_a_csv_without_the_columns_imports_nothing_with_a_reason(kit_a):
    response = login(kit_a.admin).post(reverse("inbox:canned_import", args=["acme"]),
                                       {"file": SimpleUploadedFile("x.csv", b"a,b\n1,2\n")}, follow=True)
    assert b"Nothing imported" in response.content and b"missing: body, language, shortcut, title" in response.content
    assert not CannedReply.objects.exists()


def test_agents_cannot_import_or_export(kit_a):
    client = login(kit_a.agent)
    assert client.get(reverse("inbox:canned_export", args=["acme"])).status_code == 403
    assert client.post(reverse("inbox:canned_import", args=["acme"])).status_code == 403


def test_export_shows_only_the_tenants_own_bank(kit_a, kit_b):
    CannedReply.objects.create(tenant=kit_a.tenant, title="A", shortcut="a", body="segredo da A")
    assert b"segredo" not in login(kit_b.admin).get(reverse("inbox:canned_export", args=["beta"])).content
