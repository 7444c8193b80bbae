"""`{% url %}` remembers the URLs it built (sac/templatetags/cached_url.py) and writes what Django's tag writes."""

import pytest
from django.template import Context, Engine, engines
from django.test import RequestFactory
from django.urls import NoReverseMatch, set_script_prefix

from sac.templatetags.cached_url import CachedURLNode, _reverse

TAGS = [
    "{% url 'inbox:case' slug pk %}",
    "{% url 'inbox:case' tenant_slug=slug case_id=pk %}",
    "{% url 'inbox:queue' slug %}?view=all&amp;q={{ q }}",
    "{% url 'inbox:queue' slug as there %}[{{ there }}]",
    "{% url 'inbox:no_such_page' slug as there %}[{{ there }}]",
    "{% url view slug %}",
    "{% url 'inbox:case' slug case %}",  # an object: not remembered, reversed every time as Django does
]


def _render(engine: Engine, text: str, **extra: object) -> str:
    context = {"slug": "acme", "pk": 42, "q": "a&b", "view": "inbox:queue", **extra}
    return engine.from_string(text).render(Context(context))


class _Case:
    def __str__(self) -> str:
        return "7"


@pytest.mark.parametrize("text", TAGS)
def test_it_writes_what_djangos_tag_writes(text):
    django_engine, ours = Engine(), Engine(builtins=["sac.templatetags.cached_url"])
    for _ in range(2):  # the second time from memory
        assert _render(ours, text, case=_Case()) == _render(django_engine, text, case=_Case())


def test_the_projects_templates_use_it_and_it_remembers():
    engine = engines["django"].engine
    node = engine.from_string("{% url 'inbox:queue' 'acme' %}").nodelist[0]
    assert isinstance(node, CachedURLNode)
    _reverse.cache_clear()
    rendered = [node.render(Context()) for _ in range(3)]
    assert rendered == ["/t/acme/"] * 3
    assert _reverse.cache_info().hits == 2 and _reverse.cache_info().misses == 1


def test_a_missing_page_still_fails_loudly():
    with pytest.raises(NoReverseMatch):
        _render(engines["django"].engine, "{% url 'inbox:no_such_page' slug %}")


def test_the_script_prefix_is_part_of_what_it_remembers():
    engine = engines["django"].engine
    try:
        set_script_prefix("/sac/")
        assert _render(engine, "{% url 'inbox:queue' slug %}") == "/sac/t/acme/"
    finally:
        set_script_prefix("/")
    assert _render(engine, "{% url 'inbox:queue' slug %}") == "/t/acme/"


def test_the_current_app_comes_from_the_request_as_in_djangos_tag():
    request = RequestFactory().get("/")
    request.current_app = "inbox"
    context = Context({"request": request})
    context.request = request
    node = engines["django"].engine.from_string("{% url 'inbox:queue' 'acme' %}")
    assert node.render(context) == "/t/acme/"
