"""The agent's pages. Every view is wrapped by sac.tenancy.tenant_view, which sets request.tenant."""

import csv
import re
import uuid

from django.contrib import messages
from django.db.models import Count
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels_ingest.models import Mention
from sac.models import Role, Tenant
from sac.parsing import parse_int, without_nul
from sac.selectors import access_member, access_team, members_of, transfer_choices
from sac.tenancy import TenantRequest, tenant_view

from . import selectors, services
from .forms import CannedReplyForm, InboxSettingsForm, NoteForm, ReplyForm, TagForm
from .limits import composer_limits
from .media import access_reply_attachment, image_route
from .models import CannedReply, Case, Reply, ReplyAttachment, Tag
from .panels import render_case_panels
from .presence import presence_touch
from .spelling import spelling_check
from .windows import private_route

# The one-click handoff's default texts, in the customer's language; the agent edits them before sending.
HANDOFF_PUBLIC = {
    "pt": "Oi, {name}! Te mandamos uma mensagem privada para cuidar disso com segurança.",
    "en": "Hi {name}, we've sent you a private message so we can sort this out safely.",
}
HANDOFF_PRIVATE = {
    "pt": "Oi, {name}! Aqui é do atendimento. Seu protocolo é {protocol}. Pode nos contar mais detalhes por aqui?",
    "en": "Hi {name}, this is customer care. Your protocol is {protocol}. Could you tell us more here?",
}


QUEUE_PAGE_SIZE = 50


def _int_or_none(value: str | None) -> int | None:
    return parse_int(value)


def _queue_filters(request: TenantRequest) -> selectors.QueueFilters:
    get = {key: without_nul(value) for key, value in request.GET.items()}
    return selectors.QueueFilters(
        q=get.get("q", "")[:200], channel=_int_or_none(get.get("channel")), status=get.get("status", ""),
        min_priority=_int_or_none(get.get("min_priority")), category=get.get("category", "")[:30],
        tag=_int_or_none(get.get("tag")), language=get.get("language", "")[:8], sla=get.get("sla", ""),
        personal_data=get.get("personal_data") == "1",
    )


def _queue_view(request: TenantRequest) -> tuple[str, dict, bool]:
    """The view asked for if this member may open it, else their default (*My cases*); the views they may
    open; and whether they asked for one that is not theirs (*All open* is for supervisors and admins)."""
    views = selectors.queue_views_for(request.membership)
    asked = request.GET.get("view", "mine")
    if asked in views:
        return asked, views, False
    return "mine", views, asked in selectors.QUEUE_VIEWS


def _queue_context(request: TenantRequest) -> dict:
    view, views, _refused = _queue_view(request)
    filters = _queue_filters(request)
    bulk = view == "all" and request.membership.has_role(Role.SUPERVISOR)
    # The rows poll asks for the view shown, not the one refused.
    query = request.GET.copy()
    query["view"] = view
    counts, tab = selectors.queue_counts_and_tab(request.tenant, request.membership)
    return {
        "view": view,
        "views": views,
        "filters": filters,
        # Lazy: the rows partial the page polls every 4 s never shows the filter choices.
        "choices": SimpleLazyObject(lambda: selectors.queue_filter_choices(request.tenant)),
        "querystring": query.urlencode(),
        # The most urgent first; an agent works the top of the queue, and a short page renders fast.
        "cases": selectors.queue_rows(request.tenant, request.membership, view, filters, limit=QUEUE_PAGE_SIZE),
        "page_size": QUEUE_PAGE_SIZE,
        # The sidebar's counts and the tab title's, in one statement; the rows poll swaps both in (out of band).
        "counts": counts,
        "tab": tab,
        "bulk": bulk,
        "may_see_ignored": request.membership.has_role(Role.SUPERVISOR),
        # Only the supervisors' bulk bar lists them: building the unused queryset cost 0.22 ms a poll.
        "members": members_of(request.tenant) if bulk else (),
    }


@tenant_view()
@require_GET
def queue(request: TenantRequest) -> HttpResponse:
    if _queue_view(request)[2]:
        messages.info(request, _("“All open” is for supervisors; here are your cases."))
    return render(request, "inbox/queue.html", _queue_context(request))


@tenant_view()
@require_GET
def queue_rows(request: TenantRequest) -> HttpResponse:
    """The htmx partial the queue page polls, so new cases appear without a reload."""
    return render(request, "inbox/_queue_rows.html", _queue_context(request))


@tenant_view(Role.SUPERVISOR)
@require_GET
def ignored(request: TenantRequest) -> HttpResponse:
    """Supervisors: what triage ignored as noise (mentions that became no case) and cases set to ignored, to
    recover what needed an answer after all."""
    before = parse_int(request.GET.get("before"))
    mentions = selectors.ignored_mentions(request.tenant, before=before)
    return render(request, "inbox/ignored.html", {
        "mentions": mentions,
        "older": mentions[-1].triage_id if len(mentions) == selectors.IGNORED_PAGE_SIZE else None,
        "first_page": before is None,
        "cases": selectors.ignored_cases(request.tenant) if before is None else (),
        "categories": selectors.triage_categories(request.tenant),
    })


@tenant_view(Role.SUPERVISOR)
@require_POST
def ignored_open_case(request: TenantRequest, mention_id: int) -> HttpResponse:
    selectors.access_ignored_mention(request.tenant, mention_id)  # not the tenant's: 404, before any write
    try:
        case = services.ignored_mention_open_case(
            tenant=request.tenant, membership=request.membership, mention_id=mention_id,
            category=without_nul(request.POST.get("category", ""))[:30])
    except services.CaseActionError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("inbox:ignored", args=[request.tenant.slug]))
    messages.success(request, _("The mention is in case %(protocol)s now.") % {"protocol": case.protocol})
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


@tenant_view()
@require_POST
def claim_next(request: TenantRequest) -> HttpResponse:
    try:
        case = services.case_claim_next(tenant=request.tenant, membership=request.membership)
    except services.CaseActionError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("inbox:queue", args=[request.tenant.slug]))
    if case is None:
        messages.info(request, _("Nothing waiting for you right now."))
        return redirect(reverse("inbox:queue", args=[request.tenant.slug]))
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


def _last_inbound(thread: list, *, public: bool = False) -> Mention | None:
    """The customer's latest message in the thread (with `public`, their latest public post or comment: what a
    public reply answers, as services.public_target finds it)."""
    inbound = [e.obj for e in thread if e.kind == "mention" and e.obj.direction == "in"
               and not (public and e.obj.kind == Mention.Kind.DIRECT)]
    return max(inbound, key=lambda m: (m.posted_at, m.pk)) if inbound else None


def _image_routes(case: Case, thread: list) -> dict:
    """Per visibility, whether the reply may carry an image (the route follows the message it answers: the last
    public one for a public reply, the last one for a private message)."""
    answered = {Reply.Visibility.PUBLIC: _last_inbound(thread, public=True), Reply.Visibility.PRIVATE:
                _last_inbound(thread)}
    return {visibility: image_route(platform=case.channel.platform, visibility=visibility,
                                    replied_kind=answered[visibility].kind if answered[visibility] else "")
            for visibility in Reply.Visibility.values}


def _handoff_origins(tenant: Tenant, case: Case, thread: list) -> list[tuple[Mention, Case | None]]:
    """The public posts or comments a private conversation of this case started from (a private message that
    answered one: the handoff), with their links, so the private talk stays tied to them on the page. When the
    case follows a resolved one (the customer answered the handoff after the reopen window), the earlier
    case's, with that case: read only then, one statement."""
    public = {e.obj.pk: e.obj for e in thread if e.kind == "mention" and e.obj.kind != Mention.Kind.DIRECT}
    origins = {e.obj.in_reply_to_id for e in thread if e.kind == "reply" and e.obj.state == Reply.State.SENT
               and e.obj.visibility == Reply.Visibility.PRIVATE and e.obj.in_reply_to_id in public}
    found: list[tuple[Mention, Case | None]] = [(public[pk], None) for pk in sorted(origins)]
    if case.follows_id is not None and not found:
        found = [(reply.in_reply_to, reply.case) for reply in selectors.handoff_replies(tenant, case.follows_id)]
    return found


def _case_context(request: TenantRequest, case: Case, reply_form: ReplyForm | None = None,
                  handoff: dict | None = None) -> dict:
    membership = request.membership
    may_work = case.assignee_id == membership.user_id or membership.has_role(Role.SUPERVISOR)
    services.case_mark_seen(tenant=request.tenant, user=request.user, case=case)
    reads = selectors.case_page_reads(request.tenant, case, tag_menu=may_work, tab_for=membership)
    context = {
        "tab": reads.tab,
        "case": case,
        "thread": reads.thread,
        "history": reads.history[:selectors.HISTORY_LIMIT],
        "history_more": len(reads.history) > selectors.HISTORY_LIMIT,
        **_tags_context(request, case, may_work=may_work, tags=reads.tags, tag_menu=reads.tag_menu),
        "triage_categories": reads.categories,
        "reply_form": reply_form,
        "note_form": NoteForm(),
        "may_work": may_work,
        # In the statuses' own order: TRANSITIONS holds sets, whose order changed from one worker to the next.
        "transitions": [s for s in Case.Status if s in services.TRANSITIONS[Case.Status(case.status)]],
        "panels": render_case_panels(request, case),
        "handoff_origins": _handoff_origins(request.tenant, case, reads.thread),
    }
    if may_work and case.is_open:
        # The transfer menus show only with the composer: a colleague's view reads neither list.
        menus = transfer_choices(request.tenant)
        context["member_options"] = format_html_join("", '<option value="{}">{} ({})</option>',
                                                     ((m.pk, m.username, m.role_label) for m in menus.members))
        context["team_options"] = format_html_join("", '<option value="{}">{}</option>',
                                                   ((t.pk, t.name) for t in menus.teams))
        context.update(_composer_context(request, case, reads.thread, reply_form, handoff))
    return context


def _composer_context(request: TenantRequest, case: Case, thread: list, reply_form: ReplyForm | None,
                      handoff: dict | None = None) -> dict:
    """What the reply composer and the one-click handoff need. The page shows them only to whoever may answer
    the open case: a colleague looking at it pays for none of it (the private route reads the thread's last
    message and the page's settings, the canned picker the bank)."""
    route = private_route(request.tenant, case)
    # A public reply and the handoff answer the customer's last public post or comment; a case where they wrote
    # only privately has none, and the page offers neither (reply_create refuses the same way).
    public_target = _last_inbound(thread, public=True)
    if reply_form is None:
        suggested = Reply.Visibility.PRIVATE if (case.personal_data or public_target is None) and route.allowed \
            else Reply.Visibility.PUBLIC
        reply_form = ReplyForm(initial={"visibility": suggested, "idempotency_key": uuid.uuid4().hex,
                                        "seen_at": timezone.now().isoformat()})
    return {
        "reply_form": reply_form,
        "reply_inputs": reply_form.composer_inputs(),
        "images": _image_routes(case, thread),
        "canned": selectors.canned_picker(request.tenant, case, request.user),
        "private_route": route,
        "public_target": public_target,
        "handoff": {
            "public": HANDOFF_PUBLIC.get(case.language, HANDOFF_PUBLIC["pt"]).format(
                name=case.customer.first_name if case.customer else ""),
            "private": HANDOFF_PRIVATE.get(case.language, HANDOFF_PRIVATE["pt"]).format(
                name=case.customer.first_name if case.customer else "", protocol=case.protocol),
            "key": uuid.uuid4().hex,
            # When the page showed the thread: the handoff, like the composer, stops if it moved on since.
            "seen_at": timezone.now().isoformat(),
            "error": "",
            **(handoff or {}),
        },
        "limits": composer_limits(case.channel.platform),
    }


@tenant_view()
@require_GET
def case_detail(request: TenantRequest, case_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    return render(request, "inbox/case.html", _case_context(request, case))


@tenant_view()
@require_GET
def case_thread(request: TenantRequest, case_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    services.case_mark_seen(tenant=request.tenant, user=request.user, case=case)
    thread, tab = selectors.case_thread_and_tab(request.tenant, case, request.membership)
    # The thread, and the tab title's count swapped in out of band.
    return render(request, "inbox/_thread_poll.html", {"case": case, "thread": thread, "tab": tab})


@tenant_view()
@require_POST
def case_claim(request: TenantRequest, case_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    try:
        services.case_claim(tenant=request.tenant, membership=request.membership, case=case)
    except services.CaseActionError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


@tenant_view()
@require_POST
def case_reply(request: TenantRequest, case_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        canned = None
        if form.cleaned_data["canned_reply"]:
            canned = selectors.access_canned_reply(request.tenant, form.cleaned_data["canned_reply"],
                                                   user=request.user)
        attachment = None
        try:
            attachment = _reply_attachment(request, form)
            services.reply_create(
                tenant=request.tenant, membership=request.membership, case=case,
                text=form.cleaned_data["text"], visibility=form.cleaned_data["visibility"],
                idempotency_key=form.cleaned_data["idempotency_key"], canned_reply=canned,
                seen_at=form.cleaned_data["seen_at"], attachment=attachment,
            )
        except services.ThreadChanged as exc:
            # Show the thread as it is now and keep the draft (and its image); the next Send goes through.
            data = request.POST.copy()
            data["seen_at"] = timezone.now().isoformat()
            data["attachment_id"] = str(attachment.pk) if attachment else ""
            form = ReplyForm(data)
            form.is_valid()
            form.add_error(None, str(exc))
        except services.CaseActionError as exc:
            form.add_error(None, str(exc))
            if attachment is not None:
                form.data = form.data.copy()
                form.data["attachment_id"] = str(attachment.pk)
        else:
            messages.success(request, _("Reply queued; its delivery state shows in the thread."))
            return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))
    return render(request, "inbox/case.html", _case_context(request, case, form), status=400)


def _reply_attachment(request: TenantRequest, form: ReplyForm) -> ReplyAttachment | None:
    """The image sent with the form (stored now), or the one a refused send already stored (by its id)."""
    if form.cleaned_data.get("attachment"):
        return services.reply_attachment_store(membership=request.membership, upload=form.cleaned_data["attachment"])
    if form.cleaned_data.get("attachment_id"):
        return access_reply_attachment(request.tenant, form.cleaned_data["attachment_id"])
    return None


@tenant_view()
@require_GET
def reply_attachment(request: TenantRequest, attachment_id: int) -> FileResponse:
    """An attached image, to the tenant's own people only (the file is never served as a static file)."""
    attachment = access_reply_attachment(request.tenant, attachment_id)
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@tenant_view()
@require_POST
def reply_retry(request: TenantRequest, case_id: int, reply_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    reply = selectors.access_reply(request.tenant, case, reply_id)
    try:
        services.reply_retry(tenant=request.tenant, membership=request.membership, reply=reply,
                             outcome_checked=request.POST.get("outcome_checked") == "1")
        messages.success(request, _("Sending the reply again."))
    except services.CaseActionError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


@tenant_view()
@require_POST
def case_handoff(request: TenantRequest, case_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    public_text = without_nul(request.POST.get("public_text", ""))
    private_text = without_nul(request.POST.get("private_text", ""))
    key = without_nul(request.POST.get("idempotency_key", ""))[:40] or uuid.uuid4().hex
    try:
        seen_at = parse_datetime(without_nul(request.POST.get("seen_at", "")).strip())
    except ValueError:
        seen_at = None
    if seen_at is not None and timezone.is_naive(seen_at):
        seen_at = timezone.make_aware(seen_at)
    try:
        services.case_handoff_private(
            tenant=request.tenant, membership=request.membership, case=case, public_text=public_text,
            private_text=private_text, idempotency_key=key, seen_at=seen_at,
        )
    except services.ThreadChanged as exc:
        # As the composer does: the thread as it is now, the agent's texts kept, and the next click sends them
        # (nothing was queued, so the same key still stands for this handoff).
        handoff = {"public": public_text, "private": private_text, "key": key, "error": str(exc)}
        return render(request, "inbox/case.html", _case_context(request, case, handoff=handoff), status=400)
    except services.CaseActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Public answer and private message queued."))
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


@tenant_view()
@require_POST
def case_status(request: TenantRequest, case_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    new_status = request.POST.get("status", "")
    if new_status not in Case.Status.values:
        messages.error(request, _("Unknown status."))
    else:
        try:
            services.case_status_change(tenant=request.tenant, membership=request.membership, case=case,
                                        new_status=new_status)
            messages.success(request, _("Case %(protocol)s is now %(status)s.")
                             % {"protocol": case.protocol, "status": Case.Status(new_status).label.lower()})
        except services.CaseActionError as exc:
            messages.error(request, str(exc))
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


@tenant_view()
@require_POST
def case_transfer(request: TenantRequest, case_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    member_id, team_id = request.POST.get("to_member", ""), request.POST.get("to_team", "")
    to_membership = access_member(request.tenant, parse_int(member_id)) if parse_int(member_id) is not None else None
    to_team = access_team(request.tenant, parse_int(team_id)) if parse_int(team_id) is not None else None
    try:
        services.case_transfer(tenant=request.tenant, membership=request.membership, case=case,
                               to_membership=to_membership, to_team=to_team, note=request.POST.get("note", ""))
        who = to_membership.user.get_username() if to_membership else to_team.name  # type: ignore[union-attr]
        messages.success(request, _("Case %(protocol)s transferred to %(who)s.")
                         % {"protocol": case.protocol, "who": who})
    except services.CaseActionError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


@tenant_view(Role.SUPERVISOR)
@require_POST
def cases_bulk_reassign(request: TenantRequest) -> HttpResponse:
    member_id = request.POST.get("to_member", "")
    to_membership = access_member(request.tenant, parse_int(member_id)) if parse_int(member_id) is not None else None
    case_ids = [n for n in map(parse_int, request.POST.getlist("case")) if n is not None]
    try:
        moved = services.cases_reassign_bulk(tenant=request.tenant, membership=request.membership,
                                             case_ids=case_ids, to_membership=to_membership)
        target = to_membership.user.get_username() if to_membership else _("the unassigned queue")
        done = ngettext("%(count)s case moved to %(target)s.", "%(count)s cases moved to %(target)s.", moved)
        messages.success(request, done % {"count": moved, "target": target})
    except services.CaseActionError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("inbox:queue", args=[request.tenant.slug]) + "?view=all")


@tenant_view()
@require_POST
def case_presence(request: TenantRequest, case_id: int) -> HttpResponse:
    """Pinged by the case page every few seconds: records this viewer, returns who else is there."""
    case = selectors.access_case(request.tenant, case_id)
    others = presence_touch(tenant=request.tenant, case_id=case.pk, username=request.user.get_username(),
                            typing=request.POST.get("typing") == "1")
    return render(request, "inbox/_presence.html", {"others": others})


@tenant_view()
@require_POST
def case_spelling(request: TenantRequest, case_id: int) -> HttpResponse:
    """The composer's spell check (htmx, after the agent pauses typing)."""
    case = selectors.access_case(request.tenant, case_id)
    text = request.POST.get("text", "")[:10_000]
    brand = frozenset(re.findall(r"\w+", f"{request.tenant.name} {case.channel.handle}"))
    issues = spelling_check(text, language=case.language or request.tenant.locale[:2], extra_words=brand)
    return render(request, "inbox/_spelling.html", {"issues": issues})


@tenant_view()
@require_POST
def case_note(request: TenantRequest, case_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(tenant=request.tenant, membership=request.membership, case=case,
                              text=form.cleaned_data["text"])
        except services.CaseActionError as exc:
            messages.error(request, str(exc))
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


@tenant_view()
@require_GET
def canned_render(request: TenantRequest, case_id: int, canned_id: int) -> HttpResponse:
    """The canned reply with its variables filled in for this case, for the composer (htmx)."""
    case = selectors.access_case(request.tenant, case_id)
    canned = selectors.access_canned_reply(request.tenant, canned_id, user=request.user)
    text = selectors.canned_render(canned, case=case, agent=request.user)
    return render(request, "inbox/_composer_text.html", {"text": text, "canned": canned})


# ---------------------------------------------------------------- canned-reply bank (tenant admins)

@tenant_view(Role.ADMIN)
@require_GET
def canned_list(request: TenantRequest) -> HttpResponse:
    return render(request, "inbox/canned_list.html",
                  {"canned_replies": selectors.canned_replies_for(request.tenant)})


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def canned_edit(request: TenantRequest, canned_id: int | None = None) -> HttpResponse:
    canned = selectors.access_canned_reply(request.tenant, canned_id) if canned_id else None
    return _canned_form(request, canned, personal=False)


def _canned_form(request: TenantRequest, canned: CannedReply | None, *, personal: bool) -> HttpResponse:
    form = CannedReplyForm(request.POST or None, instance=canned, tenant=request.tenant)
    back = reverse("inbox:my_canned" if personal else "inbox:canned_list", args=[request.tenant.slug])
    if request.method == "POST" and form.is_valid():
        try:
            services.canned_reply_save(
                tenant=request.tenant, membership=request.membership, canned=canned, personal=personal,
                **{f: form.cleaned_data[f] for f in ("title", "shortcut", "body", "language", "platform", "channel")})
        except services.CaseActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Canned reply saved."))
            return redirect(back)
    return render(request, "inbox/canned_form.html", {"form": form, "canned": canned, "personal": personal,
                                                      "back": back}, status=400 if form.errors else 200)


@tenant_view(Role.ADMIN)
@require_POST
def canned_delete(request: TenantRequest, canned_id: int) -> HttpResponse:
    canned = selectors.access_canned_reply(request.tenant, canned_id)
    services.canned_reply_delete(tenant=request.tenant, membership=request.membership, canned=canned)
    messages.success(request, _("Canned reply deleted."))
    return redirect(reverse("inbox:canned_list", args=[request.tenant.slug]))


@tenant_view(Role.ADMIN)
@require_GET
def canned_export(request: TenantRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="canned-replies-{request.tenant.slug}.csv"'
    writer = csv.writer(response)
    writer.writerow(services.CANNED_CSV_COLUMNS + services.CANNED_CSV_OPTIONAL)
    # Channel-specific variants stay out: a channel id means nothing in another installation's bank.
    for c in selectors.canned_replies_for(request.tenant).filter(channel__isnull=True).order_by("shortcut"):
        writer.writerow([c.shortcut, c.title, c.language, c.body, c.platform])
    return response


@tenant_view(Role.ADMIN)
@require_POST
def canned_import(request: TenantRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None or upload.size > 2_000_000:
        messages.error(request, _("Choose a CSV file of at most 2 MB."))
        return redirect(reverse("inbox:canned_list", args=[request.tenant.slug]))
    try:
        text = upload.read().decode("utf-8-sig")
        result = services.canned_replies_import_csv(tenant=request.tenant, membership=request.membership, text=text)
    except UnicodeDecodeError:
        messages.error(request, _("The file is not UTF-8 text; export it from your spreadsheet as CSV UTF-8."))
    except (services.CaseActionError, csv.Error) as exc:
        messages.error(request, _("Nothing imported: %(error)s") % {"error": exc})
    else:
        messages.success(request, _("Imported: %(created)s new, %(updated)s updated.")
                         % {"created": result.created, "updated": result.updated})
        for error in result.errors[:20]:
            messages.error(request, _("Skipped %(row)s.") % {"row": error})
    return redirect(reverse("inbox:canned_list", args=[request.tenant.slug]))


# ---------------------------------------------------------------- personal canned replies (#5)

@tenant_view()
@require_GET
def my_canned(request: TenantRequest) -> HttpResponse:
    return render(request, "inbox/my_canned.html",
                  {"canned_replies": selectors.personal_canned_replies(request.tenant, request.user)})


@tenant_view()
@require_http_methods(["GET", "POST"])
def my_canned_edit(request: TenantRequest, canned_id: int | None = None) -> HttpResponse:
    canned = selectors.access_personal_canned_reply(request.tenant, request.user, canned_id) if canned_id else None
    return _canned_form(request, canned, personal=True)


@tenant_view()
@require_POST
def my_canned_delete(request: TenantRequest, canned_id: int) -> HttpResponse:
    canned = selectors.access_personal_canned_reply(request.tenant, request.user, canned_id)
    services.canned_reply_delete(tenant=request.tenant, membership=request.membership, canned=canned)
    messages.success(request, _("Canned reply deleted."))
    return redirect(reverse("inbox:my_canned", args=[request.tenant.slug]))


# ---------------------------------------------------------------- tags (#5)

def _tags_context(request: TenantRequest, case: Case, *, may_work: bool, tags: list[Tag] | None = None,
                  tag_menu: list[Tag] | None = None) -> dict:
    """The tag card's context, from the case's tags and the tenant's live ones when the caller read them
    already (the case page reads them with the rest of the page)."""
    if tags is None:
        tags = list(case.tags.filter(tenant=request.tenant).order_by("name"))
    if tag_menu is None and may_work:
        tag_menu = list(selectors.tags_of(request.tenant))
    present = {t.pk for t in tags}
    return {
        "case_tags": tags,
        # The menu and the resolve warning are shown to whoever may work the case only.
        "available_tags": [t for t in tag_menu if t.pk not in present] if may_work else [],
        "missing_tags": selectors.case_missing_tags(request.tenant, case, tags=tags, tag_menu=tag_menu)
        if case.is_open and may_work else [],
    }


def _case_tags_response(request: TenantRequest, case: Case, error: str = "") -> HttpResponse:
    """htmx: the tag card again, and the resolve warning beside the status buttons out of band."""
    if request.headers.get("HX-Request"):
        membership = request.membership
        may_work = case.assignee_id == membership.user_id or membership.has_role(Role.SUPERVISOR)
        return render(request, "inbox/_tags.html", {
            "case": case, **_tags_context(request, case, may_work=may_work), "oob": True, "tag_error": error,
            "may_work": may_work})
    if error:
        messages.error(request, error)
    return redirect(reverse("inbox:case", args=[request.tenant.slug, case.pk]))


@tenant_view()
@require_POST
def case_tag_add(request: TenantRequest, case_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    tag_id = parse_int(request.POST.get("tag"))
    if tag_id is None:
        return _case_tags_response(request, case, "Choose a tag to add.")
    tag = selectors.access_tag(request.tenant, tag_id)
    try:
        services.case_tag_add(tenant=request.tenant, membership=request.membership, case=case, tag=tag)
    except services.CaseActionError as exc:
        return _case_tags_response(request, case, str(exc))
    return _case_tags_response(request, case)


@tenant_view()
@require_POST
def case_tag_remove(request: TenantRequest, case_id: int, tag_id: int) -> HttpResponse:
    case = selectors.access_case(request.tenant, case_id)
    tag = selectors.access_tag(request.tenant, tag_id)
    try:
        services.case_tag_remove(tenant=request.tenant, membership=request.membership, case=case, tag=tag)
    except services.CaseActionError as exc:
        return _case_tags_response(request, case, str(exc))
    return _case_tags_response(request, case)


def _tag_fields(form: TagForm) -> dict:
    return {f: form.cleaned_data[f] for f in ("name", "mandatory", "mandatory_from", "mandatory_until")}


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def tags(request: TenantRequest) -> HttpResponse:
    """The tenant's tags; POST creates one."""
    form = TagForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tag = services.tag_save(tenant=request.tenant, membership=request.membership, tag=None,
                                    **_tag_fields(form))
        except services.CaseActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Tag “%(name)s” created.") % {"name": tag.name})
            return redirect(reverse("inbox:tags", args=[request.tenant.slug]))
    tag_list = selectors.tags_of(request.tenant, archived=None).annotate(case_count=Count("cases"))
    return render(request, "inbox/tags.html", {"form": form, "tags": tag_list}, status=400 if form.errors else 200)


@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def tag_edit(request: TenantRequest, tag_id: int) -> HttpResponse:
    tag = selectors.access_tag(request.tenant, tag_id)
    form = TagForm(request.POST or None, initial={"name": tag.name, "mandatory": tag.mandatory,
                                                  "mandatory_from": tag.mandatory_from,
                                                  "mandatory_until": tag.mandatory_until})
    if request.method == "POST" and form.is_valid():
        try:
            services.tag_save(tenant=request.tenant, membership=request.membership, tag=tag, **_tag_fields(form))
        except services.CaseActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Tag “%(name)s” saved.") % {"name": tag.name})
            return redirect(reverse("inbox:tags", args=[request.tenant.slug]))
    return render(request, "inbox/tag_form.html", {"form": form, "tag": tag}, status=400 if form.errors else 200)


@tenant_view(Role.ADMIN)
@require_POST
def tag_archive(request: TenantRequest, tag_id: int) -> HttpResponse:
    tag = selectors.access_tag(request.tenant, tag_id)
    archived = request.POST.get("archived", "1") == "1"
    services.tag_archive(tenant=request.tenant, membership=request.membership, tag=tag, archived=archived)
    done = _("Tag “%(name)s” archived.") if archived else _("Tag “%(name)s” restored.")
    messages.success(request, done % {"name": tag.name})
    return redirect(reverse("inbox:tags", args=[request.tenant.slug]))


# ---------------------------------------------------------------- inbox settings (#5)

@tenant_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def inbox_settings(request: TenantRequest) -> HttpResponse:
    current = selectors.inbox_settings_of(request.tenant)
    initial = {"contact_email": current.contact_email, "contact_phone": current.contact_phone,
               "chat_url": current.chat_url, "reopen_window_days": request.tenant.reopen_window_days,
               "human_agent_channels": list(current.human_agent_channels.all()) if current.pk else []}
    form = InboxSettingsForm(request.POST or None, initial=initial, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        try:
            services.inbox_settings_save(tenant=request.tenant, membership=request.membership,
                                         contact_email=form.cleaned_data["contact_email"],
                                         contact_phone=form.cleaned_data["contact_phone"].strip(),
                                         chat_url=form.cleaned_data["chat_url"],
                                         human_agent_channels=list(form.cleaned_data["human_agent_channels"]),
                                         reopen_window_days=form.cleaned_data["reopen_window_days"])
        except services.CaseActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Inbox settings saved."))
            return redirect(reverse("inbox:inbox_settings", args=[request.tenant.slug]))
    return render(request, "inbox/settings.html", {"form": form}, status=400 if form.errors else 200)


# ---------------------------------------------------------------- notifications (#5)

@tenant_view()
@require_GET
def notifications(request: TenantRequest) -> HttpResponse:
    return render(request, "inbox/notifications.html",
                  {"notifications": selectors.notifications_for(request.tenant, request.user)})


@tenant_view()
@require_GET
def notifications_bell(request: TenantRequest) -> HttpResponse:
    """The header's unread count, polled by every page (htmx)."""
    return render(request, "inbox/_bell.html",
                  {"unread": selectors.notifications_unread_count(request.tenant, request.user)})


@tenant_view()
@require_POST
def notification_open(request: TenantRequest, notification_id: int) -> HttpResponse:
    notification = selectors.access_notification(request.tenant, request.user, notification_id)
    services.notification_mark_read(tenant=request.tenant, user=request.user, notification=notification)
    if notification.case_id is None:
        return redirect(reverse("inbox:notifications", args=[request.tenant.slug]))
    return redirect(reverse("inbox:case", args=[request.tenant.slug, notification.case_id]))


@tenant_view()
@require_POST
def notifications_read_all(request: TenantRequest) -> HttpResponse:
    count = services.notifications_mark_all_read(tenant=request.tenant, user=request.user)
    messages.success(request, ngettext("%(count)s notification marked as read.",
                                       "%(count)s notifications marked as read.", count) % {"count": count})
    return redirect(reverse("inbox:notifications", args=[request.tenant.slug]))
