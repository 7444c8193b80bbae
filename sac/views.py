from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from .selectors import user_memberships


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """One tenant: straight to its inbox. Several: pick one (the switcher in the header does the same)."""
    memberships = user_memberships(request.user)
    if len(memberships) == 1:
        return redirect("inbox:queue", tenant_slug=memberships[0].tenant.slug)
    return render(request, "sac/tenant_picker.html", {"memberships": memberships})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
