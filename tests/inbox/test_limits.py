import pytest

from inbox.limits import check_length, composer_limits, x_count_rules, x_url_spans, x_weighted_length


def test_latin_text_counts_one_per_character():
    assert x_weighted_length("Olá, tudo bem? Já estamos vendo.") == 32


def test_urls_count_23_whatever_their_length():
    assert x_weighted_length("veja https://acme.example.com/ajuda/internet/lenta?x=1") == 5 + 23
    assert x_weighted_length("acme.com.br") == 23


def test_cjk_and_emoji_count_two():
    assert x_weighted_length("日本") == 4
    assert x_weighted_length("😀") == 2
    assert x_weighted_length("👍🏽") == 2  # with a skin-tone modifier
    assert x_weighted_length("👨‍👩‍👧") == 2  # a ZWJ family is one emoji


def test_the_limit_depends_on_network_and_visibility():
    assert check_length("a" * 280, platform="x", visibility="public").ok
    assert not check_length("a" * 281, platform="simulator", visibility="public").ok
    assert not check_length("😀" * 141, platform="x", visibility="public").ok
    assert check_length("a" * 2000, platform="x", visibility="private").ok
    assert check_length("a" * 2000, platform="facebook", visibility="private").ok
    assert not check_length("a" * 2001, platform="facebook", visibility="private").ok


# ---------------------------------------------------------------- X's rules, as twitter-text applies them
# (text, weighted length on X). The e2e test tests/e2e/test_composer.py types the same texts into the case page
# and expects the live counter to show the same numbers.
TRICKY_TEXTS: list[tuple[str, int]] = [
    ("Veja as ofertas em acme.shop hoje", 19 + 23 + 5),  # a new gTLD without a scheme is a URL
    ("Baixe o app: acme.app", 13 + 23),
    ("2ª via: acme.com.br/2via?cpf=123&x=1.", 8 + 23 + 1),  # path and query in, the final period out
    ("https://www.acme.com.br/ajuda/internet-lenta?utm_source=x&id=42#topo", 23),
    ("caixa postal: www.acme.com.br.", 14 + 23 + 1),
    ("Site: acme.br", 13),  # one label on a country code, no path: X does not link it
    ("acme.br/fatura", 23),  # ... with a path it does
    ("ver example.naoexiste", 21),  # not a TLD
    ("@acme_suporte e #SACacme: email joao@acme.com.br", 48),  # handles, hashtags and e-mails are not URLs
    ("Olá, João! Não conseguimos ver a conexão. Ação necessária.", 58),
    ("Obrigado pelo contato 😀🙏🏽👨‍👩‍👧🇧🇷", 22 + 4 * 2),  # emoji, skin tone, ZWJ family, flag: 2 each
    ("1️⃣ passo", 2 + 6),  # a keycap is one emoji
    ("日本語のサポート", 8 * 2),
    ("  espaços nas pontas  ", 18),  # stripped, as reply_create strips before sending
    ("a" * 256 + " acme.shop", 280),  # exactly at the limit
    ("a" * 257 + " acme.shop", 281),  # one over
    ("😀" * 140, 280),
    ("😀" * 140 + "!", 281),
]


@pytest.mark.parametrize(("text", "expected"), TRICKY_TEXTS)
def test_it_counts_tricky_texts_as_x_does(text, expected):
    assert check_length(text, platform="x", visibility="public").length == expected


def test_it_refuses_one_over_and_accepts_exactly_at_the_limit():
    assert check_length("a" * 256 + " acme.shop", platform="x", visibility="public").ok
    assert not check_length("a" * 257 + " acme.shop", platform="x", visibility="public").ok


def test_it_finds_urls_where_twitter_text_does():
    assert x_url_spans("veja acme.shop/ofertas?x=1.") == [(5, 26)]
    assert x_url_spans('"acme.shop"') == [(1, 10)]  # quotes are not part of it
    assert x_url_spans("acme.co") == [(0, 7)] and x_url_spans("t.co") == [(0, 4)]  # .co/.tv short domains link
    assert x_url_spans("http://例子.com") == [(0, 13)]  # with a scheme, a Unicode domain too
    assert x_url_spans("例子.com") == []  # without one, only ASCII domains
    assert x_url_spans("nota 10.5, arquivo.txt, node.js") == []


def test_line_breaks_count_once_as_the_browser_shows_them():
    # A browser submits the textarea's line breaks as CRLF; the page counts one per break, and so do we.
    assert check_length("Linha 1\r\nLinha 2\r\n", platform="x", visibility="public").length == 15
    assert check_length("Linha 1\r\nLinha 2", platform="facebook", visibility="private").length == 15


def test_facebook_and_messenger_count_characters_with_their_own_limits():
    assert composer_limits("facebook") == {"public": 8_000, "private": 2_000, "weighted": False,
                                           "rules": composer_limits("facebook")["rules"]}
    assert check_length("acme.shop 😀", platform="facebook", visibility="public").length == 11  # no URL weight
    assert check_length("ã" * 8_000, platform="facebook", visibility="public").ok
    assert not check_length("ã" * 8_001, platform="facebook", visibility="public").ok
    assert not check_length("😀" * 2_001, platform="facebook", visibility="private").ok
    assert composer_limits("simulator")["weighted"] and composer_limits("x")["rules"]["urlWeight"] == 23


def test_the_page_gets_the_same_expressions_the_server_uses():
    rules = x_count_rules()
    assert "{tld}" in rules["url"] and "shop" in rules["tld"].split("|") and "br" in rules["cctld"].split("|")
    assert rules["lightRanges"] == ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))  # twitter-text v3
