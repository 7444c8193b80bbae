"""What keeps the case page cheap: its reads come as prepared statements (sac/prepared.py), the thread with the
page's other small reads in one round trip and the SLA panel in another, and show the same rows as the ORM
querysets they replace; its form controls are rendered without Django's widget templates, as Django renders
them."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inbox import selectors, services
from inbox.forms import ReplyForm, input_html, select_html
from inbox.models import CannedReply, Case, Reply, TriageCategory
from inbox.triage_forms import TriageCorrectionForm
from sac.models import Team
from sac.selectors import transfer_choices
from sla import panels as sla_panels
from sla.services import promise_make, sla_event_record
from surveys import selectors as survey_selectors
from surveys.models import SurveyInvitation, SurveyResponse

from ..conftest import login
from ..factories import open_case
from ..surveys.factories import answered_followup

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the prepared path is PostgreSQL's")


def _busy_case(kit):
    """A case with something of every kind in its thread and its SLA panel."""
    case = open_case(kit, "Fui cobrado duas vezes na fatura, alguém me ajuda?")
    case = services.case_claim(tenant=kit.tenant, membership=kit.agent, case=case)
    services.note_add(tenant=kit.tenant, membership=kit.agent, case=case, text="Checking the invoice")
    services.reply_create(tenant=kit.tenant, membership=kit.agent, case=case, text="We are on it!",
                          visibility=Reply.Visibility.PUBLIC, idempotency_key=uuid.uuid4().hex)
    promise_make(tenant=kit.tenant, membership=kit.agent, case=case, min_hours=2, max_hours=6)
    now = timezone.now()
    sla_event_record(case=case, target="first_response", due_at=now + timedelta(hours=1), at=now, met=True)
    return selectors.access_case(kit.tenant, case.pk)


def _shown(entries) -> list[tuple]:
    def person(obj):
        who = getattr(obj, "actor", None) if hasattr(obj, "actor_id") else getattr(obj, "author", None)
        return getattr(who, "username", None) or getattr(who, "handle", None)

    return [(e.at, e.kind, type(e.obj), e.obj.pk, getattr(e.obj, "text", ""), getattr(e.obj, "data", None),
             person(e.obj), e.media) for e in entries]


def test_it_reads_the_thread_in_one_round_trip_with_the_rows_of_the_orm(kit_a):
    case = _busy_case(kit_a)
    selectors.case_thread(kit_a.tenant, case)  # the connection's first call also PREPAREs the statements
    with CaptureQueriesContext(connection) as ctx:
        thread = selectors.case_thread(kit_a.tenant, case)
    assert len(ctx.captured_queries) == 1
    assert {e.kind for e in thread} == {"mention", "reply", "note", "event"}
    assert _shown(thread) == _shown(selectors._case_thread_orm(kit_a.tenant, case))
    # Replies and notes show their author's username; the password hash is never read.
    reply = next(e.obj for e in thread if e.kind == "reply")
    assert reply.author.username == kit_a.agent.user.username
    assert "password" in reply.author.get_deferred_fields()


def test_it_reads_the_sla_panel_in_one_round_trip_with_the_rows_of_the_orm(kit_a):
    case = _busy_case(kit_a)
    sla_panels._context(None, case)
    with CaptureQueriesContext(connection) as ctx:
        prepared = sla_panels._context(None, case)
    assert len(ctx.captured_queries) == 1
    orm = sla_panels._context_orm(case)
    assert prepared["promise"] is not None and prepared["events"]
    assert prepared["promise"].pk == orm["promise"].pk and str(prepared["promise"]) == str(orm["promise"])
    assert [(e.pk, e.target, e.met) for e in prepared["events"]] == [(e.pk, e.target, e.met) for e in orm["events"]]
    assert (prepared["clock"] and prepared["clock"].pk) == (orm["clock"] and orm["clock"].pk)
    assert (prepared["policy"].pk, str(prepared["policy"])) == (orm["policy"].pk, str(orm["policy"]))


def test_another_tenants_thread_and_panel_are_empty(kit_a, kit_b):
    case = _busy_case(kit_a)
    case.tenant = kit_b.tenant  # as if a selector were handed the wrong tenant: every statement filters by it
    assert selectors.case_thread(kit_b.tenant, case) == []
    context = sla_panels._context(None, case)
    assert context["clock"] is None and context["promise"] is None and context["events"] == []


def test_the_case_page_shows_the_thread_and_the_panel(kit_a):
    case = _busy_case(kit_a)
    html = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert "Fui cobrado duas vezes" in html and "We are on it!" in html and "Checking the invoice" in html
    assert 'id="sla-promise"' in html and "between 2 and 6 hours" in html


# ---------------------------------------------------------------- round 2: the page's other reads and controls


def _count(fn):
    with CaptureQueriesContext(connection) as ctx:
        result = fn()
    return result, len(ctx.captured_queries)


def test_access_case_reads_the_case_and_its_relations_in_one_statement(kit_a, kit_b):
    case = _busy_case(kit_a)
    team = Team.objects.create(tenant=kit_a.tenant, name="Fibra")
    Case.objects.filter(pk=case.pk).update(team=team)
    selectors.access_case(kit_a.tenant, case.pk)
    got, statements = _count(lambda: selectors.access_case(kit_a.tenant, case.pk))
    assert statements == 1
    orm = Case.objects.select_related("channel", "customer", "assignee", "team").get(tenant=kit_a.tenant, pk=case.pk)
    with CaptureQueriesContext(connection) as ctx:  # the relations come with it, as select_related's do
        shown = (got.channel.platform, got.channel.handle, got.customer.handle, got.customer.first_name,
                 got.assignee.username, got.team.name, got.tenant.slug)
    assert ctx.captured_queries == []
    assert shown == (orm.channel.platform, orm.channel.handle, orm.customer.handle, orm.customer.first_name,
                     orm.assignee.username, "Fibra", "acme")
    assert [getattr(got, f.attname) for f in Case._meta.concrete_fields] == [
        getattr(orm, f.attname) for f in Case._meta.concrete_fields]
    # The channel's credentials and the assignee's password hash are not read (they load only if asked for).
    assert "credentials" in got.channel.get_deferred_fields() and "password" in got.assignee.get_deferred_fields()
    with pytest.raises(Http404):
        selectors.access_case(kit_b.tenant, case.pk)


def test_access_case_of_a_case_without_customer_assignee_or_team(kit_a):
    case = open_case(kit_a)
    Case.objects.filter(pk=case.pk).update(customer=None)
    got, statements = _count(lambda: selectors.access_case(kit_a.tenant, case.pk))
    assert statements == 1
    with CaptureQueriesContext(connection) as ctx:
        assert got.customer is None and got.assignee is None and got.team is None
    assert ctx.captured_queries == []
    assert selectors.case_page_reads(kit_a.tenant, got, tag_menu=False).history == []
    html = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert "Unknown author." in html and "Nobody has this case yet." in html


def _tagged_case(kit):
    case = _busy_case(kit)
    day = case.first_message_at.date()
    always = services.tag_save(tenant=kit.tenant, membership=kit.admin, tag=None, name="Motivo", mandatory=True)
    services.tag_save(tenant=kit.tenant, membership=kit.admin, tag=None, name="Campanha", mandatory=True,
                      mandatory_from=day - timedelta(days=2), mandatory_until=day + timedelta(days=2))
    services.tag_save(tenant=kit.tenant, membership=kit.admin, tag=None, name="Black Friday", mandatory=True,
                      mandatory_from=day + timedelta(days=10))
    services.tag_save(tenant=kit.tenant, membership=kit.admin, tag=None, name="Natal", mandatory=True,
                      mandatory_until=day - timedelta(days=10))
    fatura = services.tag_save(tenant=kit.tenant, membership=kit.admin, tag=None, name="Fatura")
    old = services.tag_save(tenant=kit.tenant, membership=kit.admin, tag=None, name="Antiga")
    for tag in (fatura, old, always):
        services.case_tag_add(tenant=kit.tenant, membership=kit.agent, case=case, tag=tag)
    services.tag_archive(tenant=kit.tenant, membership=kit.admin, tag=old, archived=True)
    TriageCategory.objects.create(tenant=kit.tenant, name="billing")
    return case


def test_the_page_reads_come_in_one_round_trip_with_the_rows_of_the_orm(kit_a):
    case = _tagged_case(kit_a)
    earlier = [open_case(kit_a, f"De novo sem sinal, dia {n}, não funciona nada!", author_id=f"9{n}",
                         handle=f"outro{n}") for n in range(2)]
    Case.objects.filter(pk__in=[c.pk for c in earlier]).update(customer=case.customer_id)
    selectors.case_page_reads(kit_a.tenant, case, tag_menu=True)
    reads, statements = _count(lambda: selectors.case_page_reads(kit_a.tenant, case, tag_menu=True))
    assert statements == 1
    assert _shown(reads.thread) == _shown(selectors._case_thread_orm(kit_a.tenant, case))
    orm_history = Case.objects.filter(tenant=kit_a.tenant, customer_id=case.customer_id).exclude(pk=case.pk)
    assert [(h.pk, h.protocol, h.status_label) for h in reads.history] == [
        (c.pk, c.protocol, c.get_status_display()) for c in orm_history.order_by("-created_at")[:10]]
    assert len(reads.history) == 2
    assert [t.name for t in reads.tags] == ["Antiga", "Fatura", "Motivo"]
    assert [t.pk for t in reads.tag_menu] == [t.pk for t in selectors.tags_of(kit_a.tenant)]
    assert reads.categories == selectors.triage_categories(kit_a.tenant) and "billing" in reads.categories
    # The mandatory tags it is missing are the ones the resolve path refuses without.
    missing = selectors.case_missing_tags(kit_a.tenant, case, tags=reads.tags, tag_menu=reads.tag_menu)
    assert [t.name for t in missing] == [t.name for t in services.case_missing_mandatory_tags(kit_a.tenant, case)]
    assert [t.name for t in missing] == ["Campanha"]
    # A colleague's view reads no tag menu.
    assert selectors.case_page_reads(kit_a.tenant, case, tag_menu=False).tag_menu is None


def test_another_tenants_page_reads_are_empty(kit_a, kit_b):
    case = _tagged_case(kit_a)
    case.tenant = kit_b.tenant
    reads = selectors.case_page_reads(kit_b.tenant, case, tag_menu=True)
    assert reads.thread == [] and reads.history == [] and reads.tags == [] and reads.tag_menu == []
    assert "billing" not in reads.categories


def test_the_tag_card_and_the_resolve_warning_show_what_they_showed(kit_a):
    case = _tagged_case(kit_a)
    html = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    card = html.split('id="case-tags"')[1].split("</form>\n</div>")[0]
    assert 'data-tag="Antiga">Antiga <small>(archived)</small>' in card and 'data-tag="Fatura"' in card
    menu = card.split('id="tag-add-select"')[1].split("</select>")[0]
    assert "Campanha (required)" in menu and "Black Friday</option>" in menu and "Fatura" not in menu
    assert "Antiga" not in menu  # archived: no longer offered
    assert "add the mandatory tag: “Campanha”." in html
    colleague = login(kit_a.agent2).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert 'id="tag-add-select"' not in colleague and "mandatory tag" not in colleague


def test_the_survey_panel_reads_the_invitation_and_its_answer_in_one_statement(kit_a, kit_b):
    case = _busy_case(kit_a)
    assert _count(lambda: survey_selectors.case_survey(kit_a.tenant, case)) == (None, 1)
    followup = answered_followup(case, comment="Demorou <demais>")
    survey_selectors.case_survey(kit_a.tenant, case)
    invitation, statements = _count(lambda: survey_selectors.case_survey(kit_a.tenant, case))
    assert statements == 1
    with CaptureQueriesContext(connection) as ctx:
        assert invitation.response.pk == followup.response_id and invitation.response.comment == "Demorou <demais>"
    assert ctx.captured_queries == []
    orm = SurveyInvitation.objects.filter(tenant=kit_a.tenant, case=case).select_related("response").first()
    assert [getattr(invitation, f.attname) for f in SurveyInvitation._meta.concrete_fields] == [
        getattr(orm, f.attname) for f in SurveyInvitation._meta.concrete_fields]
    SurveyResponse.objects.filter(pk=followup.response_id).delete()
    unanswered = survey_selectors.case_survey(kit_a.tenant, case)
    with CaptureQueriesContext(connection) as ctx:
        assert getattr(unanswered, "response", None) is None
    assert ctx.captured_queries == []
    assert survey_selectors.case_survey(kit_b.tenant, case) is None
    html = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert 'id="survey-panel"' in html


def test_the_canned_picker_offers_what_the_orm_offered(kit_a):
    case = _busy_case(kit_a)
    other = open_case(kit_a, "Minha fatura veio errada de novo, não funciona nada!", author_id="77", handle="outro")
    mine = dict(title="Mine", body="Oi {{customer.first_name}}")
    for owner, values in ((None, dict(title="Bank", shortcut="oi", body="Oi", language="", platform="")),
                          (None, dict(title="Bank pt", shortcut="oi", body="Olá", language="pt", platform="")),
                          (None, dict(title="Bank en", shortcut="hi", body="Hi", language="en", platform="")),
                          (None, dict(title="X only", shortcut="x", body="X", language="", platform="x")),
                          (kit_a.agent.user, dict(shortcut="meu", language="", platform="", **mine)),
                          (kit_a.agent2.user, dict(shortcut="dele", language="", platform="", **mine))):
        CannedReply.objects.create(tenant=kit_a.tenant, owner=owner, **values)
    Case.objects.filter(pk=other.pk).update(language="")  # unknown language: every language is offered
    other = selectors.access_case(kit_a.tenant, other.pk)
    for c in (case, other):
        picked = selectors.canned_picker(kit_a.tenant, c, kit_a.agent.user)
        usable = selectors._canned_usable_prepared(kit_a.tenant, c, kit_a.agent.user)
        orm = (CannedReply.objects.filter(tenant=kit_a.tenant).filter(Q(owner__isnull=True) | Q(owner=kit_a.agent.user))
               .filter(Q(platform="") | Q(platform=c.channel.platform))
               .filter(Q(channel__isnull=True) | Q(channel=c.channel_id)))
        if c.language:
            orm = orm.filter(Q(language="") | Q(language=c.language))
        assert sorted(r.pk for r in usable) == sorted(r.pk for r in orm)
        assert [r.title for r in picked["mine"]] == ["Mine"]
    assert "Bank en" in {r.title for r in selectors._canned_usable_prepared(kit_a.tenant, other, kit_a.agent.user)}
    assert selectors._canned_usable_prepared(kit_a.tenant, case, kit_a.agent.user) != []


def test_the_transfer_menus_list_members_and_teams_in_one_statement(kit_a, kit_b):
    Team.objects.create(tenant=kit_a.tenant, name="Fibra <óptica>")
    Team.objects.create(tenant=kit_a.tenant, name="Atendimento")
    Team.objects.create(tenant=kit_b.tenant, name="Beta team")
    choices, statements = _count(lambda: transfer_choices(kit_a.tenant))
    assert statements == 1
    assert [t.name for t in choices.teams] == ["Atendimento", "Fibra <óptica>"]
    assert [m.username for m in choices.members] == sorted(m.username for m in choices.members)
    case = _busy_case(kit_a)
    html = login(kit_a.agent).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    teams = html.split('id="to-team"')[1].split("</select>")[0]
    assert "Fibra &lt;óptica&gt;</option>" in teams and "Beta team" not in teams
    # A colleague's view shows no transfer menu, and reads neither list.
    colleague = login(kit_a.agent2).get(reverse("inbox:case", args=["acme", case.pk])).content.decode()
    assert 'id="to-member"' not in colleague


def _forms():
    reply_initial = {"visibility": "private", "idempotency_key": "k" * 32, "seen_at": "2026-01-02T03:04:05+00:00"}
    yield ReplyForm(initial=reply_initial)
    yield ReplyForm()
    invalid = ReplyForm({"text": "", "visibility": "nope", "idempotency_key": 'a"<b>', "attachment_id": "x"})
    invalid.is_valid()
    yield invalid
    valid = ReplyForm({"text": "ok", "visibility": "public", "idempotency_key": "k", "seen_at": "2026-01-02T03:04:05Z",
                       "attachment_id": "12"})
    valid.is_valid()
    yield valid


def test_the_hand_rendered_controls_are_the_ones_django_renders(kit_a):
    for form in _forms():
        inputs = form.composer_inputs()
        for name in ("attachment", "idempotency_key", "seen_at", "attachment_id"):
            assert inputs[name] == str(form[name])
        assert [(r.value, str(r.choice_label), r.id_for_label, r.tag) for r in inputs["visibility"]] == [
            (radio.data["value"], str(radio.choice_label), radio.id_for_label, radio.tag())
            for radio in form["visibility"]]
    for categories, initial in ((["complaint", "billing & co"], {"category": "billing & co", "priority": 7,
                                                                  "requires_response": "0"}),
                                (["question"], {"category": "", "priority": 100, "requires_response": "1"})):
        form = TriageCorrectionForm(tenant=kit_a.tenant, categories=categories, initial=initial)
        assert select_html(form["category"]) == str(form["category"])
        assert select_html(form["requires_response"]) == str(form["requires_response"])
        assert input_html(form["priority"]) == str(form["priority"])


def test_the_case_page_statements(kit_a):
    """What each view of the page costs in statements: the session's user with their memberships (sac.backends), the
    case, the page's reads, the SLA panel and the survey panel; the composer adds the transfer menus and the canned
    picker."""
    case = _tagged_case(kit_a)
    url = reverse("inbox:case", args=["acme", case.pk])
    for who, expected in ((kit_a.agent2, 5), (kit_a.agent, 7)):
        client = login(who)
        client.get(url)  # the connection's first page PREPAREs its statements
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        statements = [q["sql"] for q in ctx.captured_queries if "django_session" not in q["sql"]]
        assert len(statements) == expected, statements
