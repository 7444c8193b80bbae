"""The customer's survey page: no login, works on a phone, in the customer's language.

Every outcome is a friendly page: an unknown token (404), an expired one (410), an answered one
("already answered"), a bad submission (the form again, 400) — never a 500.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sac.parsing import parse_int, without_nul

from . import services
from .models import DEFAULT_WORDING, SurveyConfig, SurveyInvitation

TEXT = {
    "pt": {
        "title": "Pesquisa de satisfação", "send": "Enviar", "comment": "Quer deixar um comentário? (opcional)",
        "thanks": "Obrigado! Sua resposta foi registrada.", "already": "Esta pesquisa já foi respondida. Obrigado!",
        "invalid": "Este link de pesquisa não é válido.", "expired": "Este link de pesquisa expirou.",
        "invalid_hint": "Confira se o endereço foi copiado inteiro.", "case": "Atendimento",
        "low": "Não gostamos de ficar abaixo do esperado: um supervisor vai entrar em contato.",
        "csat_low": "Muito insatisfeito", "csat_high": "Muito satisfeito",
        "nps_low": "Nada provável", "nps_high": "Muito provável",
    },
    "en": {
        "title": "How did we do?", "send": "Send", "comment": "Anything you'd like to add? (optional)",
        "thanks": "Thank you! Your answer has been recorded.", "already": "This survey was already answered. Thanks!",
        "invalid": "This survey link is not valid.", "expired": "This survey link has expired.",
        "invalid_hint": "Please check that the whole address was copied.", "case": "Case",
        "low": "We are sorry we fell short: a supervisor will get in touch.",
        "csat_low": "Very dissatisfied", "csat_high": "Very satisfied",
        "nps_low": "Not likely", "nps_high": "Very likely",
    },
}


def _lang_of(request: HttpRequest) -> str:
    accept = request.headers.get("Accept-Language", "").lower()
    return "en" if accept.startswith("en") else "pt"


def _int(value: str | None) -> int | None:
    return parse_int(value)


def _questions(invitation: SurveyInvitation) -> dict[str, str]:
    config = SurveyConfig.objects.filter(tenant=invitation.tenant).first()
    lang, brand = invitation.language, invitation.tenant.name
    out = {}
    for kind in ("csat", "nps"):
        if getattr(invitation, f"ask_{kind}"):
            wording = getattr(config, f"{kind}_question_{lang}", "") or DEFAULT_WORDING[f"{kind}_question_{lang}"]
            out[kind] = wording.replace("{brand}", brand)
    return out


@never_cache
@require_http_methods(["GET", "POST"])
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_for_token(token)
    except services.TokenInvalid:
        lang = _lang_of(request)
        return render(request, "surveys/public_message.html",
                      {"t": TEXT[lang], "lang": lang, "message": TEXT[lang]["invalid"],
                       "hint": TEXT[lang]["invalid_hint"], "kind": "invalid"}, status=404)
    except services.TokenExpired:
        lang = _lang_of(request)
        return render(request, "surveys/public_message.html",
                      {"t": TEXT[lang], "lang": lang, "message": TEXT[lang]["expired"], "kind": "expired"}, status=410)
    lang = invitation.language if invitation.language in TEXT else "pt"
    t = TEXT[lang]
    base = {"t": t, "lang": lang, "brand": invitation.tenant.name, "protocol": invitation.case.protocol}
    if invitation.answered_at is not None:
        return render(request, "surveys/public_message.html", {**base, "message": t["already"], "kind": "already"})
    questions = _questions(invitation)
    error = ""
    if request.method == "POST":
        try:
            response = services.survey_answer(token=token, csat=_int(request.POST.get("csat")),
                                              nps=_int(request.POST.get("nps")),
                                              comment=without_nul(request.POST.get("comment", "")))
        except services.AlreadyAnswered:
            return render(request, "surveys/public_message.html", {**base, "message": t["already"], "kind": "already"})
        except (services.TokenInvalid, services.TokenExpired):
            return render(request, "surveys/public_message.html",
                          {**base, "message": t["expired"], "kind": "expired"}, status=410)
        except services.SurveyError:
            error = "Por favor, responda a todas as perguntas." if lang == "pt" else "Please answer every question."
        else:
            return render(request, "surveys/public_message.html",
                          {**base, "message": t["thanks"], "kind": "thanks", "low": response.is_low})
    return render(request, "surveys/public_form.html", {
        **base, "questions": questions, "error": error, "csat_scale": range(1, 6), "nps_scale": range(0, 11),
        "posted": request.POST if request.method == "POST" else {},
    }, status=400 if error else 200)
