import pytest

from sac.parsing import parse_int, without_nul


@pytest.mark.parametrize("raw, expected", [("12", 12), (" 7 ", 7), ("²", None), ("٣", None), ("-1", None),
                                           ("", None), (None, None), ("1" * 19, None), ("1e3", None)])
def test_only_plain_ascii_integers_are_read(raw, expected):
    assert parse_int(raw) == expected


def test_nul_characters_are_dropped():
    assert without_nul("a\x00b") == "ab"


@pytest.mark.django_db
def test_odd_input_on_public_and_member_urls_is_never_a_500(client, kit_a):
    from ..conftest import login

    assert client.get("/hooks/x/a%00b/").status_code == 404
    assert client.get("/hooks/facebook/a%00b/").status_code == 404
    agent = login(kit_a.agent)
    assert agent.get("/t/acme/", {"channel": "²", "min_priority": "٣", "tag": "\x00"}).status_code == 200
    assert agent.get("/t/acme/", {"q": "cobran\x00ça"}).status_code == 200
