"""Walk every URL pattern as a member of tenant B holding tenant A's ids: only 404/403, never A's data.

A new URL with a parameter this walker does not know fails the test, so every
new page or endpoint has to be added here (DEVELOPERS.md: tenancy is sacred).
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from channels_ingest.models import DeadLetter
from crm_bridge.models import CrmCustomer
from inbox.models import CannedReply, Notification, PersonalDataPattern, Reply, ReplyAttachment, RoutingRule, Tag
from inbox.services import mentions_triage
from sac.models import Invitation, Team
from sac.services import api_token_create, invitation_create
from sla.models import BusinessCalendar, SLAPolicy

from .conftest import login
from .factories import ingest, mention_item, open_case
from .surveys.factories import answered_followup

# URL names outside any tenant, checked separately or public by design.
UNSCOPED = {"home", "healthz", "login", "logout", "api-schema", "api-root",
            # network webhooks: no tenant in the URL, an unguessable key and a signature (tests/channels_ingest)
            "channels_ingest_webhooks:facebook", "channels_ingest_webhooks:instagram", "channels_ingest_webhooks:x",
            "survey_public",  # the customer's survey page: public by design, addressed by a secret token
            # OAuth redirect URIs: one per network, the tenant comes from the admin's own session state
            # (tests/channels_ingest/test_oauth.py: foreign, replayed and unknown states are refused)
            "channels_oauth:x_callback", "channels_oauth:facebook_callback",
            # a team invitation's link: no tenant in the URL, a secret token that names the invitation's own tenant
            # (tests/sac/test_team_invitations.py: another brand's token never grants this one)
            "invitation_accept"}


def _patterns(resolver: URLResolver, prefix: str = "", namespace: str = "",
              outer: tuple[str, ...] = ()) -> list[tuple[str, str, list[str]]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin" or entry.app_name == "admin":
                continue  # Django admin: platform operators only (staff), tested by Django itself
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += _patterns(entry, prefix + str(entry.pattern), ns, outer + tuple(entry.pattern.regex.groupindex))
        elif isinstance(entry, URLPattern):
            params = [*outer, *entry.pattern.regex.groupindex]
            found.append((f"{namespace}{entry.name}", prefix + str(entry.pattern), params))
    return found


def _fill(route: str, values: dict[str, str]) -> str:
    """Put values into a path() route (`<int:case_id>`) or a DRF regex route (`(?P<pk>[^/.]+)`)."""
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], route)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], path)
    return "/" + path.replace("^", "").replace("$", "").lstrip("/")


@pytest.mark.django_db
def test_a_member_of_b_never_sees_or_changes_a(kit_a, kit_b):
    case_a = open_case(kit_a)
    canned_a = CannedReply.objects.create(tenant=kit_a.tenant, title="A", shortcut="a", body="secret A")
    client_b = login(kit_b.admin)  # B's most powerful role
    _, token_b = api_token_create(membership=kit_b.admin, name="walker")

    reply_a = Reply.objects.create(tenant=kit_a.tenant, case=case_a, visibility="public", text="secret A",
                                   idempotency_key="walker-a", state=Reply.State.FAILED, error="boom")
    a_ids = {"case_id": str(case_a.pk), "canned_id": str(canned_a.pk), "pk": str(case_a.pk),
             "reply_id": str(reply_a.pk)}
    a_ids["followup_id"] = str(answered_followup(case_a).pk)
    a_ids["customer_id"] = str(CrmCustomer.objects.create(tenant=kit_a.tenant, name="secret A").pk)
    a_ids["channel_id"] = str(kit_a.channel.pk)
    a_ids["dead_letter_id"] = str(DeadLetter.objects.create(tenant=kit_a.tenant, channel=kit_a.channel, source="poll",
                                                            reason="secret A", payload="{}").pk)
    a_ids["rule_id"] = str(RoutingRule.objects.create(tenant=kit_a.tenant, name="secret A", keywords="x").pk)
    a_ids["pattern_id"] = str(PersonalDataPattern.objects.create(tenant=kit_a.tenant, name="a", regex="secret A").pk)
    a_ids["tag_id"] = str(Tag.objects.create(tenant=kit_a.tenant, name="secret A").pk)
    a_ids["notification_id"] = str(Notification.objects.create(tenant=kit_a.tenant, recipient=kit_a.agent.user,
                                                                case=case_a, text="secret A").pk)
    a_ids["policy_id"] = str(SLAPolicy.objects.create(tenant=kit_a.tenant, name="secret A").pk)
    a_ids["attachment_id"] = str(ReplyAttachment.objects.create(
        tenant=kit_a.tenant, sha256="a" * 64, content_type="image/png", size=9, file="tenants/x/secret-A.png").pk)
    noise_a = ingest(kit_a.channel, [mention_item("kkkkkk secret A", author_id="991")]).stored_ids
    mentions_triage(tenant_id=kit_a.tenant.pk, mention_ids=noise_a)  # ignored: on A's supervisors' Ignored page
    a_ids["mention_id"] = str(noise_a[0])
    a_ids["calendar_id"] = str(BusinessCalendar.objects.create(tenant=kit_a.tenant, name="secret A",
                                                               windows={"0": [["08:00", "18:00"]]}).pk)
    a_ids["member_id"] = str(kit_a.agent.pk)
    a_ids["team_id"] = str(Team.objects.create(tenant=kit_a.tenant, name="secret A").pk)
    invitation_a, _ = invitation_create(tenant=kit_a.tenant, actor=kit_a.admin, email="secret-a@example.com",
                                        name="secret A", role="agent", teams=[])
    a_ids["invitation_id"] = str(invitation_a.pk)
    checked = 0
    for name, route, params in _patterns(get_resolver()):
        if "format" in params:
            continue  # DRF's suffix variants of the same views
        unknown = set(params) - {"tenant_slug", "case_id", "canned_id", "pk", "reply_id", "followup_id", "token",
                                  "rule_id", "customer_id", "pattern_id", "channel_id", "dead_letter_id",
                                  "webhook_key", "tag_id", "notification_id", "policy_id", "calendar_id",
                                  "attachment_id", "mention_id", "member_id", "team_id", "invitation_id"}
        assert not unknown, f"{name} ({route}) has parameters the walker does not know: {unknown}"
        if name in UNSCOPED or name.split(":")[-1] in UNSCOPED or not params and not route.startswith("api/"):
            continue
        if route.startswith("api/"):
            if not params:
                continue  # list endpoints are scoped by the token; test_tenancy checks their content
            path = _fill(route, {"pk": str(case_a.pk)})
            if "mentions" in route:
                path = _fill(route, {"pk": str(case_a.case_mentions.first().mention_id)})
            for method in ("get", "put", "patch", "delete"):
                response = getattr(client_b, method)(path, HTTP_AUTHORIZATION=f"Bearer {token_b}")
                assert response.status_code in (404, 405), f"{method.upper()} {path} -> {response.status_code}"
                assert b"secret A" not in response.content and case_a.protocol.encode() not in response.content
                checked += 1
            continue
        # UI: A's slug (B is not a member) and B's own slug with A's ids.
        for slug in ("acme", "beta"):
            if slug == "beta" and params == ["tenant_slug"]:
                continue  # B's own page without ids: B's own data, nothing of A's to address
            path = _fill(route, {**a_ids, "tenant_slug": slug})
            for method in ("get", "post"):
                response = getattr(client_b, method)(path, {"text": "x", "status": "resolved"})
                assert response.status_code in (403, 404, 405), f"{method.upper()} {path} -> {response.status_code}"
                assert b"secret A" not in response.content and case_a.protocol.encode() not in response.content
                checked += 1
    assert checked > 30

    case_a.refresh_from_db()
    canned_a.refresh_from_db()
    assert case_a.assignee is None and case_a.status == "new"
    assert list(case_a.replies.values_list("state", flat=True)) == [Reply.State.FAILED]
    assert canned_a.body == "secret A"
    assert SLAPolicy.objects.filter(tenant=kit_a.tenant, name="secret A").exists()
    assert BusinessCalendar.objects.filter(tenant=kit_a.tenant, name="secret A").exists()
    assert Team.objects.filter(tenant=kit_a.tenant, name="secret A").exists()
    refreshed = Invitation.objects.get(tenant=kit_a.tenant, pk=invitation_a.pk)
    assert refreshed.revoked_at is None and refreshed.token_digest == invitation_a.token_digest
    kit_a.agent.refresh_from_db()
    assert kit_a.agent.role == "agent" and kit_a.agent.is_active and kit_a.agent.max_open_cases == 20
