"""`{% url %}` that remembers the URLs it built (installed as a template builtin in settings.TEMPLATES, so every
template's `{% url %}` is this one).

Django's `reverse()` walks the URL resolver's candidates, substitutes and re-checks the pattern on every call:
55–82 µs a call on the 2-core bench machine (two measurements), and the case page has about twenty `{% url %}`
tags, the queue page about ten. The same arguments give the same URL as long as the URLconf and the
script prefix are the same, so the URL is kept per (view, arguments, current app, URLconf, script prefix).
Only str and int arguments are remembered (slugs and ids: all the project's templates pass); anything
else goes to `reverse()` every time, as Django's tag does.
"""

import functools
from typing import Any

from django import template
from django.conf import settings
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()


@functools.lru_cache(maxsize=20_000)  # ~2 MB at most; a URL not shown for a while is simply built again
def _reverse(view_name: str, args: tuple, kwargs: tuple, current_app: str | None, urlconf: Any, prefix: str,
             root_urlconf: str) -> str:
    # urlconf, prefix and root_urlconf are in the key only: reverse() reads the same values itself.
    return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)


def _plain(value: Any) -> bool:
    # str subclasses too: a quoted view name arrives as a SafeString, a TextChoices member is its value. Not bool:
    # True equals 1 as a key, and would be given 1's URL.
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def cached_reverse(view_name: Any, args: list, kwargs: dict, current_app: str | None) -> str:
    if (_plain(view_name) and all(_plain(a) for a in args) and all(_plain(v) for v in kwargs.values())
            and (current_app is None or _plain(current_app))):
        return _reverse(view_name, tuple(args), tuple(sorted(kwargs.items())), current_app, get_urlconf(),
                        get_script_prefix(), settings.ROOT_URLCONF)
    return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)


class CachedURLNode(URLNode):
    def render(self, context: template.Context) -> str:
        # Django's URLNode.render, with cached_reverse in place of reverse.
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {k: v.resolve(context) for k, v in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = cached_reverse(view_name, args, kwargs, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser: template.base.Parser, token: template.base.Token) -> CachedURLNode:
    node = django_url(parser, token)  # Django's own parsing of the tag's arguments
    return CachedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
