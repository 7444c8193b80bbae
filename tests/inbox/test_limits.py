from inbox.limits import check_length, x_weighted_length


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
