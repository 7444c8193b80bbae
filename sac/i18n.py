"""Which language a page speaks (README "Languages"): the user's pick, the brand's locale, the browser's, pt-BR."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation

# Django's own parser; get_language_from_request cannot tell "the browser asked for LANGUAGE_CODE" from
# "nothing matched", and those two must differ here.
from django.utils.translation.trans_real import parse_accept_lang_header

# The first market is Brazil and Portugal, so a browser asking for no language SAC ships gets pt-BR. This is
# not LANGUAGE_CODE: that stays English, so code outside a request (Celery tasks, commands, logs, service
# errors in tests) keeps the English source texts.
UI_FALLBACK_LANGUAGE = "pt-br"


def tenant_language(tenant: Any, default: str | None = None) -> str:
    """The brand's locale (Tenant.locale) as a language SAC ships, else `default` (LANGUAGE_CODE when not given)."""
    try:
        return translation.get_supported_language_variant(tenant.locale)
    except LookupError:
        return default or settings.LANGUAGE_CODE


def chosen_language(request: HttpRequest) -> str | None:
    """The language the user picked with the header's switcher (Django's set_language cookie), if any."""
    code = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return code if code in dict(settings.LANGUAGES) else None


def browser_language(request: HttpRequest) -> str:
    """The user's pick, else the best Accept-Language match (pt-PT reads pt-BR), else pt-BR."""
    picked = chosen_language(request)
    if picked:
        return picked
    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return UI_FALLBACK_LANGUAGE


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's, with SAC's fallback (pt-BR) instead of LANGUAGE_CODE. Brand pages refine it: tenant_view."""

    def process_request(self, request: HttpRequest) -> None:
        translation.activate(browser_language(request))
        request.LANGUAGE_CODE = translation.get_language()  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response = super().process_response(request, response)
        # Django leaves the language active on the thread after the request; here it would leak pt-BR into what
        # the same thread runs next (the demo's in-process poller and eager tasks, tests calling services).
        translation.deactivate()
        return response
