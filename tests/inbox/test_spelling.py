from django.urls import reverse

from inbox.spelling import spelling_check

from ..conftest import login
from ..factories import open_case


def test_typos_are_found_with_suggestions_in_portuguese_and_english():
    [issue] = spelling_check("Olá! Já recebemo sua mensagem.", language="pt")
    assert issue.word == "recebemo" and "recebemos" in issue.suggestions
    assert (issue.start, issue.end) == (8, 16)
    assert [i.word for i in spelling_check("We are lookng into it", language="en")] == ["lookng"]


def test_handles_hashtags_urls_protocols_variables_and_acronyms_are_left_alone():
    text = ("@mariazinha veja https://acme.example/ajuda #AcmeAjuda protocolo 20261123-000042 "
            "{{customer.first_name}} pelo PIX ou CPF, vc manda DM? joana@example.com")
    assert spelling_check(text, language="pt") == []


def test_the_brand_name_is_not_a_typo():
    assert spelling_check("A Telecomzz agradece", language="pt", extra_words=frozenset({"Telecomzz"})) == []


def test_the_composer_asks_the_server_and_shows_suggestions(kit_a):
    case = open_case(kit_a)
    response = login(kit_a.agent).post(reverse("inbox:case_spelling", args=["acme", case.pk]),
                                       {"text": "Já recebemo seu pedido"})
    assert b'data-word="recebemo"' in response.content and b"recebemos" in response.content
    assert login(kit_a.agent).post(reverse("inbox:case_spelling", args=["beta", case.pk]),
                                   {"text": "x"}).status_code == 404
