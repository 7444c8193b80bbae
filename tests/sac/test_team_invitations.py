"""Invitations from the Team page: a tenant admin invites someone by e-mail; the person opens the link, sets a
password (or signs in with the account they have) and is a member with the invited role and teams. Expired, revoked,
used and replaced links say so; another brand sees and changes nothing; agents are refused."""

import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sac import services as sac_services
from sac.models import AuditEvent, Invitation, Membership, Role, Team
from sac.services import (
    INVITATION_EMAILS_PER_HOUR,
    INVITATION_RESEND_AFTER,
    InvitationUnusable,
    InvitationWrongAccount,
    TeamConfigError,
    invitation_accept,
    invitation_accept_new_account,
    invitation_create,
    invitation_resend,
    invitation_revoke,
    membership_ensure,
)

from ..conftest import login

PASSWORD = "Cafe-com-leite-42"


@pytest.fixture(autouse=True)
def _empty_outbox():
    mail.outbox = []


def _invite_data(**changes) -> dict:
    data = {"email": "Ana.Souza@Example.com", "name": "Ana  Souza", "role": Role.AGENT, "language": "en"}
    data.update(changes)
    return data


def _post_invite(client: Client, capture, slug: str = "acme", **changes):
    with capture(execute=True):
        return client.post(reverse("sac:invitation_new", args=[slug]), _invite_data(**changes))


def _link_in(message) -> str:
    """The path of the /invite/<token>/ link in an e-mail, as the person would click it."""
    [url] = re.findall(r"https?://\S+/invite/\S+/", message.body)
    return urlparse(url).path


def _audits(tenant, verb: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(tenant=tenant, verb=verb))


# ---------------------------------------------------------------- the whole way, through the pages

def test_an_invited_person_sets_a_password_and_lands_in_the_inbox_with_the_invited_role_and_teams(
        kit_a, django_capture_on_commit_callbacks):
    fibra = Team.objects.create(tenant=kit_a.tenant, name="Fibra")
    Team.objects.create(tenant=kit_a.tenant, name="Móvel")
    admin = login(kit_a.admin)
    response = _post_invite(admin, django_capture_on_commit_callbacks, role=Role.SUPERVISOR, teams=[fibra.pk],
                            languages=["pt"], platforms=["x"])
    assert response.status_code == 302 and response["Location"] == reverse("sac:team", args=["acme"])
    page = admin.get(response["Location"]).content.decode()
    assert "Invitation sent to ana.souza@example.com. The link works for 7 days." in page
    row = page.split('data-invitation="ana.souza@example.com"')[1].split("</tr>")[0]
    for text in ("Ana Souza", "Supervisor", "Fibra", "acme-admin", "works until", "Resend", "Revoke"):
        assert text in row, text

    [message] = mail.outbox
    assert message.to == ["ana.souza@example.com"]
    assert message.subject == "Admin invited you to Acme Telecom on SAC"
    assert "Hello Ana Souza," in message.body and "as Supervisor" in message.body
    assert "username: ana.souza@example.com" in message.body and "7 days" in message.body
    link = _link_in(message)
    token = link.rstrip("/").rsplit("/", 1)[1]
    invitation = Invitation.objects.get(tenant=kit_a.tenant)
    # Only a digest of the token is kept.
    assert invitation.token_digest == Invitation.digest_of(token) and token not in invitation.token_digest
    assert invitation.expires_at - invitation.created_at > timedelta(days=6, hours=23)

    visitor = Client()
    form = visitor.get(link)
    assert form.status_code == 200
    body = form.content.decode()
    assert "Join Acme Telecom" in body and "ana.souza@example.com" in body and "as Supervisor" in body
    assert "Fibra" in body and 'name="password1"' in body

    mismatch = visitor.post(link, {"name": "Ana Souza", "password1": PASSWORD, "password2": PASSWORD + "x"})
    assert mismatch.status_code == 400 and "The two password fields didn’t match." in mismatch.content.decode()
    short = visitor.post(link, {"name": "Ana Souza", "password1": "abc", "password2": "abc"})
    assert short.status_code == 400 and "This password is too short." in short.content.decode()
    like_address = visitor.post(link, {"name": "Ana Souza", "password1": "ana.souza@example.com",
                                       "password2": "ana.souza@example.com"})
    assert like_address.status_code == 400 and "too similar" in like_address.content.decode()
    for weak, why in (("12345678", "This password is entirely numeric."), ("password123", "too common")):
        refused = visitor.post(link, {"name": "Ana Souza", "password1": weak, "password2": weak})
        assert refused.status_code == 400 and why in refused.content.decode(), weak
    assert not get_user_model().objects.filter(username="ana.souza@example.com").exists()

    joined = visitor.post(link, {"name": "Ana Souza", "password1": PASSWORD, "password2": PASSWORD})
    assert joined.status_code == 302 and joined["Location"] == reverse("inbox:queue", args=["acme"])
    inbox = visitor.get(joined["Location"])  # signed in: the inbox opens
    assert inbox.status_code == 200 and "Welcome to Acme Telecom." in inbox.content.decode()

    user = get_user_model().objects.get(username="ana.souza@example.com")
    assert (user.email, user.first_name, user.last_name) == ("ana.souza@example.com", "Ana", "Souza")
    member = Membership.objects.get(tenant=kit_a.tenant, user=user)
    assert member.role == Role.SUPERVISOR and member.is_active
    assert list(member.teams.all()) == [fibra] and member.languages == ["pt"] and member.platforms == ["x"]
    assert not Membership.objects.filter(user=user).exclude(tenant=kit_a.tenant).exists()

    # The login page asks for a username: the e-mail address is it.
    again = Client().post(reverse("login"), {"username": "ana.souza@example.com", "password": PASSWORD})
    assert again.status_code == 302

    [created] = _audits(kit_a.tenant, "invitation.created")
    assert created.actor == kit_a.admin.user and created.data["teams"] == ["Fibra"]
    [accepted] = _audits(kit_a.tenant, "invitation.accepted")
    assert accepted.actor == user and accepted.object_id == str(invitation.pk)
    assert _audits(kit_a.tenant, "membership.created")[-1].data["role"] == Role.SUPERVISOR
    # No longer pending on the Team page.
    page = admin.get(reverse("sac:team", args=["acme"])).content.decode()
    assert 'data-invitation="ana.souza@example.com"' not in page and 'data-member="ana.souza@example.com"' in page

    # The link again, now used: a clear message, and still one membership.
    used = visitor.post(link, {"name": "Ana Souza", "password1": PASSWORD, "password2": PASSWORD})
    assert used.status_code == 410 and "already used" in used.content.decode()
    assert Client().get(link).status_code == 410
    assert Membership.objects.filter(tenant=kit_a.tenant, user=user).count() == 1


def test_the_email_and_the_page_speak_portuguese_when_chosen(kit_a, django_capture_on_commit_callbacks):
    _post_invite(login(kit_a.admin), django_capture_on_commit_callbacks, language="pt-br")
    [message] = mail.outbox
    assert "convidou você" in message.subject and "Acme Telecom" in message.subject
    assert "Olá, Ana Souza" in message.body and "como Agente" in message.body and "7 dias" in message.body
    page = Client().get(_link_in(message))
    body = page.content.decode()
    assert page["Content-Language"] == "pt-br" and "Entrar em Acme Telecom" in body and "Senha" in body


def test_the_invite_form_starts_in_the_brands_language(kit_a):
    kit_a.tenant.locale = "pt-br"
    kit_a.tenant.save(update_fields=["locale"])
    body = login(kit_a.admin).get(reverse("sac:team", args=["acme"])).content.decode()
    assert "Convidar alguém" in body and '<option value="pt-br" selected>' in body


def test_someone_with_an_account_signs_in_and_gets_the_membership_added(kit_a, kit_b,
                                                                      django_capture_on_commit_callbacks):
    bruno = kit_b.agent.user  # an agent of Beta Bank: users may belong to several brands
    bruno.email = "Bruno@Beta.example"
    bruno.save(update_fields=["email"])
    users = get_user_model().objects.count()
    _post_invite(login(kit_a.admin), django_capture_on_commit_callbacks, email="bruno@beta.example",
                 role=Role.AGENT)
    link = _link_in(mail.outbox[0])

    visitor = Client()
    body = visitor.get(link).content.decode()
    assert "You already have an SAC account" in body and "beta-agent" in body and 'name="password1"' not in body
    assert f'href="{reverse("login")}?next={link}"' in body
    # The password form is not offered to an address that has an account, even if posted to.
    refused = visitor.post(link, {"name": "X", "password1": PASSWORD, "password2": PASSWORD})
    assert refused.status_code == 200 and "You already have an SAC account" in refused.content.decode()

    signed_in = visitor.post(reverse("login"), {"username": "beta-agent", "password": "pw", "next": link})
    assert signed_in.status_code == 302 and signed_in["Location"] == link
    confirm = visitor.get(link).content.decode()
    assert "Join Acme Telecom" in confirm and 'name="password1"' not in confirm
    joined = visitor.post(link)
    assert joined.status_code == 302 and joined["Location"] == reverse("inbox:queue", args=["acme"])
    assert visitor.get(joined["Location"]).status_code == 200

    assert get_user_model().objects.count() == users
    assert Membership.objects.get(tenant=kit_a.tenant, user=bruno).role == Role.AGENT
    kit_b.agent.refresh_from_db()
    assert kit_b.agent.is_active and kit_b.agent.role == Role.AGENT  # Beta's membership untouched
    assert visitor.post(link).status_code == 410
    assert Membership.objects.filter(tenant=kit_a.tenant, user=bruno).count() == 1


def test_signed_in_as_someone_else_the_page_says_to_log_out_first(kit_a, django_capture_on_commit_callbacks):
    _post_invite(login(kit_a.admin), django_capture_on_commit_callbacks)
    link = _link_in(mail.outbox[0])
    other = login(kit_a.agent)
    for response in (other.get(link), other.post(link)):
        assert response.status_code == 403
        body = response.content.decode()
        assert "This invitation is for ana.souza@example.com, but you are logged in as acme-agent." in body
    invitation = Invitation.objects.get(tenant=kit_a.tenant)
    assert invitation.accepted_at is None
    with pytest.raises(InvitationWrongAccount):
        invitation_accept(token=link.rstrip("/").rsplit("/", 1)[1], user=kit_a.agent.user)


# ---------------------------------------------------------------- links that no longer work

def test_expired_revoked_and_unknown_links_each_say_what_happened(kit_a, django_capture_on_commit_callbacks):
    admin = login(kit_a.admin)
    _post_invite(admin, django_capture_on_commit_callbacks, email="late@example.com")
    _post_invite(admin, django_capture_on_commit_callbacks, email="withdrawn@example.com")
    late_link, withdrawn_link = (_link_in(m) for m in mail.outbox)
    Invitation.objects.filter(tenant=kit_a.tenant, email="late@example.com").update(
        expires_at=timezone.now() - timedelta(minutes=1))
    withdrawn = Invitation.objects.get(tenant=kit_a.tenant, email="withdrawn@example.com")
    revoked = admin.post(reverse("sac:invitation_revoke", args=["acme", withdrawn.pk]), follow=True)
    assert "The invitation to withdrawn@example.com was revoked" in revoked.content.decode()

    page = admin.get(reverse("sac:team", args=["acme"])).content.decode()
    assert "expired" in page.split('data-invitation="late@example.com"')[1].split("</tr>")[0]
    assert 'data-invitation="withdrawn@example.com"' not in page

    visitor = Client(headers={"accept-language": "en"})  # an unknown link has no invitation to take a language from
    cases = [(late_link, 410, "This invitation has expired."), (withdrawn_link, 410, "This invitation was withdrawn."),
             ("/invite/not-a-real-token/", 404, "This invitation link is not valid."),
             ("/invite/" + "x" * 300 + "/", 404, "This invitation link is not valid.")]
    for link, status, text in cases:
        for response in (visitor.get(link), visitor.post(link, {"name": "Z", "password1": PASSWORD,
                                                                  "password2": PASSWORD})):
            assert response.status_code == status, link
            assert text in response.content.decode() and "Traceback" not in response.content.decode()
    assert "Este link de convite não é válido." in Client().get("/invite/nope/").content.decode()  # pt-BR by default
    assert not get_user_model().objects.filter(email__in=["late@example.com", "withdrawn@example.com"]).exists()
    assert [a.data["email"] for a in _audits(kit_a.tenant, "invitation.revoked")] == ["withdrawn@example.com"]


def test_resend_mails_a_new_link_and_the_old_one_stops_working(kit_a, django_capture_on_commit_callbacks):
    admin = login(kit_a.admin)
    _post_invite(admin, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get(tenant=kit_a.tenant)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("sac:invitation_resend", args=["acme", invitation.pk]), follow=True)
    assert "A new invitation was sent to ana.souza@example.com" in response.content.decode()
    old, new = (_link_in(m) for m in mail.outbox)
    assert old != new and mail.outbox[1].to == ["ana.souza@example.com"]
    invitation.refresh_from_db()
    assert invitation.expires_at > timezone.now() + timedelta(days=6)

    visitor = Client()
    assert visitor.get(old).status_code == 404
    assert visitor.get(new).status_code == 200
    assert visitor.post(new, {"name": "Ana", "password1": PASSWORD, "password2": PASSWORD}).status_code == 302
    assert Membership.objects.filter(tenant=kit_a.tenant, user__username="ana.souza@example.com").exists()
    [resent] = _audits(kit_a.tenant, "invitation.resent")
    assert resent.actor == kit_a.admin.user
    # Accepted now: Resend and Revoke refuse, with a message.
    again = admin.post(reverse("sac:invitation_resend", args=["acme", invitation.pk]), follow=True)
    assert "already accepted or revoked" in again.content.decode() and len(mail.outbox) == 2


# ---------------------------------------------------------------- what the invite form refuses

def test_inviting_a_member_or_an_address_already_invited_is_a_form_error(kit_a, django_capture_on_commit_callbacks):
    user = kit_a.agent.user
    user.email = "agent@acme.example"
    user.save(update_fields=["email"])
    admin = login(kit_a.admin)
    response = _post_invite(admin, django_capture_on_commit_callbacks, email="AGENT@acme.example")
    assert response.status_code == 400
    body = response.content.decode()
    assert "agent@acme.example is already a member of this brand (acme-agent)." in body
    assert "No invitation was sent" in body
    response = _post_invite(admin, django_capture_on_commit_callbacks, email="acme-supervisor@x.example")
    assert response.status_code == 302  # a different address: fine

    response = _post_invite(admin, django_capture_on_commit_callbacks, email="Acme-Supervisor@x.example")
    assert response.status_code == 400
    assert "acme-supervisor@x.example already has a pending invitation" in response.content.decode()
    response = _post_invite(admin, django_capture_on_commit_callbacks, email="not an address")
    assert response.status_code == 400 and "Enter a valid email address." in response.content.decode()
    assert len(mail.outbox) == 1 and Invitation.objects.filter(tenant=kit_a.tenant).count() == 1


def test_an_inactive_member_is_pointed_to_the_member_list(kit_a):
    kit_a.agent.user.email = "agent@acme.example"
    kit_a.agent.user.save(update_fields=["email"])
    Membership.objects.filter(pk=kit_a.agent.pk).update(is_active=False)
    with pytest.raises(TeamConfigError, match="inactive"):
        invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email="agent@acme.example", name="A",
                          role=Role.AGENT, teams=[])


def test_after_a_revoke_the_same_address_can_be_invited_again(kit_a):
    first, _ = invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email="ana@example.com", name="Ana",
                                 role=Role.AGENT, teams=[])
    invitation_revoke(tenant=kit_a.tenant, actor=kit_a.admin, invitation=first)
    second, token = invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email="ana@example.com",
                                      name="Ana", role=Role.ADMIN, teams=[])
    member = invitation_accept_new_account(token=token, name="Ana", password=PASSWORD)
    assert member.role == Role.ADMIN
    with pytest.raises(InvitationUnusable) as caught:
        invitation_accept_new_account(token=token, name="Ana", password=PASSWORD)
    assert caught.value.reason == "used"


# ---------------------------------------------------------------- who may do what

def test_an_agent_gets_a_403_and_a_supervisor_sees_no_invitations(kit_a):
    invitation, _ = invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email="secret-a@example.com",
                                      name="Secret A", role=Role.AGENT, teams=[])
    agent = login(kit_a.agent)
    assert agent.get(reverse("sac:team", args=["acme"])).status_code == 403
    assert agent.post(reverse("sac:invitation_new", args=["acme"]), _invite_data()).status_code == 403
    assert agent.post(reverse("sac:invitation_resend", args=["acme", invitation.pk])).status_code == 403
    assert agent.post(reverse("sac:invitation_revoke", args=["acme", invitation.pk])).status_code == 403

    supervisor = login(kit_a.supervisor)
    body = supervisor.get(reverse("sac:team", args=["acme"])).content.decode()
    assert 'id="invite-form"' not in body and "secret-a@example.com" not in body
    assert supervisor.post(reverse("sac:invitation_new", args=["acme"]), _invite_data()).status_code == 403
    assert supervisor.post(reverse("sac:invitation_revoke", args=["acme", invitation.pk])).status_code == 403
    invitation.refresh_from_db()
    assert invitation.revoked_at is None and Invitation.objects.filter(tenant=kit_a.tenant).count() == 1
    assert mail.outbox == []  # on_commit never ran: nothing new was sent either


def test_another_brand_cannot_see_resend_or_revoke_an_invitation(kit_a, kit_b):
    invitation, token = invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email="secret-a@example.com",
                                          name="Secret A", role=Role.AGENT, teams=[])
    digest = invitation.token_digest
    client = login(kit_b.admin)
    body = client.get(reverse("sac:team", args=["beta"])).content.decode()
    assert "secret-a@example.com" not in body and "No pending invitations." in body
    for slug, status in (("beta", 404), ("acme", 404)):
        for name in ("sac:invitation_resend", "sac:invitation_revoke"):
            assert client.post(reverse(name, args=[slug, invitation.pk])).status_code == status
    assert client.post(reverse("sac:invitation_new", args=["acme"]), _invite_data()).status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None and invitation.token_digest == digest
    assert not AuditEvent.objects.filter(tenant=kit_b.tenant, verb__startswith="invitation.").exists()
    with pytest.raises(TeamConfigError):  # and the services themselves refuse another tenant's invitation
        invitation_revoke(tenant=kit_b.tenant, actor=kit_b.admin, invitation=invitation)
    with pytest.raises(TeamConfigError):
        invitation_resend(tenant=kit_b.tenant, actor=kit_b.admin, invitation=invitation)


def test_a_token_of_one_brand_only_ever_grants_that_brand(kit_a, kit_b):
    """The link carries no tenant: whoever opens it, from wherever, joins the invitation's own brand, and a team of
    another brand can never be attached to it."""
    team_b = Team.objects.create(tenant=kit_b.tenant, name="Beta team")
    with pytest.raises(TeamConfigError, match="does not belong to this brand"):
        invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email="x@example.com", name="X",
                          role=Role.AGENT, teams=[team_b])
    # A Beta member whose address Acme invites joins Acme only, whatever brand page they came from.
    b_audits = AuditEvent.objects.filter(tenant=kit_b.tenant).count()
    user_b = membership_ensure(tenant=kit_b.tenant, username="carla@example.com", role=Role.ADMIN, password="pw",
                               email="carla@example.com").user
    _invitation, token = invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email="carla@example.com",
                                           name="Carla", role=Role.AGENT, teams=[])
    member = invitation_accept(token=token, user=user_b)
    assert member.tenant == kit_a.tenant and member.role == Role.AGENT
    assert Membership.objects.get(tenant=kit_b.tenant, user=user_b).role == Role.ADMIN  # unchanged
    assert not Invitation.objects.filter(tenant=kit_b.tenant).exists()
    assert AuditEvent.objects.filter(tenant=kit_b.tenant).count() == b_audits + 1  # membership_ensure's own row
    assert AuditEvent.objects.filter(tenant=kit_a.tenant, verb="invitation.accepted", actor=user_b).exists()


# ---------------------------------------------------------------- the services on their own

def test_the_services_write_an_audit_row_each(kit_a):
    fibra = Team.objects.create(tenant=kit_a.tenant, name="Fibra")
    invitation, token = invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email=" Dora@Example.COM ",
                                          name="Dora", role=Role.AGENT, teams=[fibra], languages=["en", "pt"])
    assert invitation.email == "dora@example.com" and invitation.languages == ["pt", "en"]
    assert not Invitation.objects.filter(token_digest=token).exists()
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now() - INVITATION_RESEND_AFTER)
    _, new_token = invitation_resend(tenant=kit_a.tenant, actor=kit_a.admin, invitation=invitation)
    with pytest.raises(InvitationUnusable) as caught:
        invitation_accept_new_account(token=token, name="Dora", password=PASSWORD)
    assert caught.value.reason == "invalid"
    member = invitation_accept_new_account(token=new_token, name="Dora Maria Lima", password=PASSWORD)
    assert list(member.teams.all()) == [fibra]
    assert (member.user.first_name, member.user.last_name) == ("Dora", "Maria Lima")
    verbs = list(AuditEvent.objects.filter(tenant=kit_a.tenant, verb__startswith="invitation.")
                 .values_list("verb", flat=True))
    assert verbs == ["invitation.created", "invitation.resent", "invitation.accepted"]
    with pytest.raises(TeamConfigError):
        invitation_revoke(tenant=kit_a.tenant, actor=kit_a.admin, invitation=invitation)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_is_down_leaves_the_invitation_saved_and_says_so(kit_a, settings):
    """A real SMTP connection to a loopback port nobody listens on: the admin sees why, never a 500, and Resend
    sends it once the mail server is back."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _closed_port(), 5
    admin = login(kit_a.admin)
    response = admin.post(reverse("sac:invitation_new", args=["acme"]), _invite_data(), follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "The invitation to ana.souza@example.com is saved, but its e-mail could not be sent" in body
    assert "e-mail not sent:" in body  # the pending list says it too
    invitation = Invitation.objects.get(tenant=kit_a.tenant)
    assert "ConnectionRefusedError" in invitation.email_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the mail server is back
    response = admin.post(reverse("sac:invitation_resend", args=["acme", invitation.pk]), follow=True)
    assert "A new invitation was sent to ana.souza@example.com" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.email_error == "" and len(mail.outbox) == 1


def test_an_address_longer_than_a_username_is_a_form_error(kit_a, django_capture_on_commit_callbacks):
    # A valid address (labels under 64 characters), 161 characters long: usernames hold 150.
    long_address = "ana@" + "a" * 60 + "." + "b" * 60 + "." + "c" * 30 + ".com"
    response = _post_invite(login(kit_a.admin), django_capture_on_commit_callbacks, email=long_address)
    assert response.status_code == 400
    assert "SAC takes e-mail addresses of up to 150 characters." in response.content.decode()
    assert not Invitation.objects.exists() and mail.outbox == []


# ---------------------------------------------------------------- how many e-mails an admin can make SAC send

def test_a_resend_within_a_minute_is_refused_with_a_reason_and_mails_nothing(kit_a, django_capture_on_commit_callbacks):
    admin = login(kit_a.admin)
    _post_invite(admin, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get(tenant=kit_a.tenant)
    resend = reverse("sac:invitation_resend", args=["acme", invitation.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(resend, follow=True)
    assert response.status_code == 200
    assert "An invitation was sent to ana.souza@example.com less than a minute ago" in response.content.decode()
    assert len(mail.outbox) == 1 and not _audits(kit_a.tenant, "invitation.resent")
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now() - INVITATION_RESEND_AFTER)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(resend, follow=True)
    assert "A new invitation was sent to ana.souza@example.com" in response.content.decode()
    assert len(mail.outbox) == 2


def test_a_brand_sends_at_most_so_many_invitation_emails_an_hour_and_another_brand_is_not_held_back(
        kit_a, kit_b, django_capture_on_commit_callbacks):
    for n in range(INVITATION_EMAILS_PER_HOUR - 1):
        invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email=f"pessoa{n}@example.com", name="",
                          role=Role.AGENT, teams=[])
    # A resend is an e-mail too: the last one the hour allows.
    resent = Invitation.objects.filter(tenant=kit_a.tenant).order_by("pk").last()
    Invitation.objects.filter(pk=resent.pk).update(sent_at=timezone.now() - INVITATION_RESEND_AFTER)
    invitation_resend(tenant=kit_a.tenant, actor=kit_a.admin, invitation=resent)
    admin = login(kit_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("sac:invitation_new", args=["acme"]), _invite_data())
    assert response.status_code == 400
    assert f"This brand has sent {INVITATION_EMAILS_PER_HOUR} invitation e-mails in the last hour" \
        in response.content.decode()
    assert not Invitation.objects.filter(tenant=kit_a.tenant, email="ana.souza@example.com").exists()
    # Resends are refused too, and an hour later the brand may send again.
    first = Invitation.objects.filter(tenant=kit_a.tenant).order_by("pk").first()
    Invitation.objects.filter(pk=first.pk).update(sent_at=timezone.now() - INVITATION_RESEND_AFTER)
    with pytest.raises(TeamConfigError, match="in the last hour"):
        invitation_resend(tenant=kit_a.tenant, actor=kit_a.admin, invitation=first)
    # Another brand on the same installation invites as usual.
    _post_invite(login(kit_b.admin), django_capture_on_commit_callbacks, slug=kit_b.tenant.slug)
    assert Invitation.objects.filter(tenant=kit_b.tenant, email="ana.souza@example.com").exists()
    AuditEvent.objects.filter(tenant=kit_a.tenant, verb__in=["invitation.created", "invitation.resent"]).update(
        created_at=timezone.now() - timedelta(hours=1, seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("sac:invitation_new", args=["acme"]), _invite_data(), follow=True)
    assert "Invitation sent to ana.souza@example.com" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_invitations_sent_at_the_same_moment_cannot_all_take_the_hours_last_email(kit_a):
    """Real PostgreSQL, two connections: the count and the new invitation are one transaction with the brand's row
    locked, so two requests that both arrive with one e-mail left send one, and the other is told why."""
    import threading

    from django.db import connection

    for n in range(INVITATION_EMAILS_PER_HOUR - 1):
        invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email=f"pessoa{n}@example.com", name="",
                          role=Role.AGENT, teams=[])
    start, outcomes = threading.Barrier(2), []

    def invite(address: str) -> None:
        try:
            start.wait()
            invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email=address, name="", role=Role.AGENT,
                              teams=[])
            outcomes.append("sent")
        except TeamConfigError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=invite, args=(f"corrida{n}@example.com",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(o if o == "sent" else "refused" for o in outcomes) == ["refused", "sent"], outcomes
    assert Invitation.objects.filter(tenant=kit_a.tenant).count() == INVITATION_EMAILS_PER_HOUR


def test_an_address_whose_accounts_change_while_joining_gets_the_wrong_account_page_not_a_500(
        kit_a, kit_b, django_capture_on_commit_callbacks):
    """The page checks the signed-in account against the invited address, and the service checks it again in its
    transaction: if the two disagree (the account's e-mail changed in between), the person sees the page that says
    whom the invitation is for, and nothing is joined."""
    bruno = kit_b.agent.user
    bruno.email = "bruno@beta.example"
    bruno.save(update_fields=["email"])
    _post_invite(login(kit_a.admin), django_capture_on_commit_callbacks, email="bruno@beta.example")
    link = _link_in(mail.outbox[0])
    visitor = login(kit_b.agent)
    assert visitor.get(link).status_code == 200
    real = sac_services.accounts_for_email
    with pytest.MonkeyPatch.context() as patch:  # what the service reads, after the page's own check
        patch.setattr(sac_services, "accounts_for_email", lambda email: real(email).exclude(pk=bruno.pk))
        response = visitor.post(link)

    assert response.status_code == 403 and "This invitation is for bruno@beta.example" in response.content.decode()
    assert not Membership.objects.filter(tenant=kit_a.tenant, user=bruno).exists()
