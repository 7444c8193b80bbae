"""Dead letters replayed after a fix, from the health page's button and from `manage.py replay_dead_letters`.

Each network's webhook item goes through a real "bug then fix": the item parser raises (the bug), a signed delivery
dead-letters the item with the reason, the parser is restored (the fix), and the replay stores the mention once.
Facebook payloads are the recordings in ../shared/fixtures/facebook/webhooks; the Instagram and X Account Activity
ones are test_webhooks' (written from Meta's and X's references: no recording exists).
"""

import copy
import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from channels_ingest.models import ChannelAccount, DeadLetter, Mention, Platform
from channels_ingest.services import channel_create, dead_letter_record

from ..conftest import login
from .test_webhooks import (
    FEED_PAGE,
    IG_ACCOUNT,
    MESSENGER_PAGE,
    SECRET,
    X_ACTIVITY,
    envelope,
    fb_channel,
    ig_body,
    post,
    shared_json,
    x_sign,
)


def parser_bug(*args, **kwargs):
    raise ValueError("parser bug: 'from' read as a list")


def replay(how: str, kit, channel: ChannelAccount, letter: DeadLetter) -> str:
    if how == "button":
        page = login(kit.admin).post(f"/t/{kit.tenant.slug}/channels/{channel.pk}/dead-letters/{letter.pk}/replay/",
                                     follow=True)
        assert page.status_code == 200
        return page.content.decode()
    out = StringIO()
    call_command("replay_dead_letters", "--tenant", kit.tenant.slug, stdout=out)
    return out.getvalue()


def dead_lettered_then_fixed(monkeypatch, capture, target, name, deliver) -> DeadLetter:
    """The bug: `target.name` raises; `deliver()` sends a signed delivery (processed by its task as it commits).
    The fix: the parser is restored."""
    monkeypatch.setattr(target, name, parser_bug)
    with capture(execute=True):
        deliver()
    monkeypatch.undo()
    letter = DeadLetter.objects.get(source="webhook")
    assert "parser bug" in letter.reason and letter.resolved_at is None
    assert not Mention.objects.exists()  # dead-lettered, not stored half-read
    return letter


def assert_replayed_once(how, kit, channel, letter, output) -> Mention:
    assert "Replayed: 1 new mention" in output if how == "button" else "replayed 1, still unreadable 0" in output
    letter.refresh_from_db()
    assert letter.resolved_at is not None
    # Replaying again adds nothing: the button no longer finds an open letter, the command has none to replay.
    assert login(kit.admin).post(
        f"/t/{kit.tenant.slug}/channels/{channel.pk}/dead-letters/{letter.pk}/replay/").status_code == 404
    out = StringIO()
    call_command("replay_dead_letters", "--tenant", kit.tenant.slug, "--id", str(letter.pk), stdout=out)
    assert "replayed 0, still unreadable 0, already replayed 1" in out.getvalue()
    return Mention.objects.get(channel=channel)


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["button", "command"])
def test_facebook_feed_change_replayed_after_a_fix(kit_a, shared_dir, monkeypatch, how,
                                                    django_capture_on_commit_callbacks):
    from channels_ingest.facebook import parse

    channel = fb_channel(kit_a.tenant)
    change = shared_json(shared_dir, "feed_webhook_changes.json")["changes"]["commentAdd"]
    letter = dead_lettered_then_fixed(monkeypatch, django_capture_on_commit_callbacks, parse, "feed_change_item",
                                      lambda: post(Client(), channel, envelope(FEED_PAGE, [change])))
    mention = assert_replayed_once(how, kit_a, channel, letter, replay(how, kit_a, channel, letter))
    assert mention.text == "Good" and mention.kind == "comment"
    assert mention.author.external_id == "139560936744123" and mention.author.name == "user"
    assert mention.conversation_id == change["value"]["post_id"]


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["button", "command"])
def test_facebook_messaging_event_replayed_after_a_fix(kit_a, shared_dir, monkeypatch, how,
                                                        django_capture_on_commit_callbacks):
    from channels_ingest.facebook import parse

    channel = fb_channel(kit_a.tenant, page_id=MESSENGER_PAGE)
    event = json.loads((shared_dir / "fixtures/facebook/webhooks/messenger_webhook_messaging_events.json")
                       .read_text())["messaging_events"]["textMessage"]
    letter = dead_lettered_then_fixed(monkeypatch, django_capture_on_commit_callbacks, parse, "messaging_item",
                                      lambda: post(Client(), channel, envelope(MESSENGER_PAGE, messaging=[event])))
    mention = assert_replayed_once(how, kit_a, channel, letter, replay(how, kit_a, channel, letter))
    assert mention.text == "Sharp tools make good work." and mention.kind == "direct"
    assert mention.author.external_id == "1423587017700273"


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["button", "command"])
def test_instagram_comment_change_replayed_after_a_fix(kit_a, monkeypatch, how, django_capture_on_commit_callbacks):
    from channels_ingest.instagram import parse

    channel = channel_create(tenant=kit_a.tenant, platform=Platform.INSTAGRAM, name="IG",
                             external_account_id=IG_ACCOUNT,
                             credentials={"access_token": "t", "app_secret": SECRET, "verify_token": "vt"})
    body = ig_body("17865799348089039", "Cadê meu pedido? 😡 — 注文はどこ")
    letter = dead_lettered_then_fixed(monkeypatch, django_capture_on_commit_callbacks, parse, "webhook_comment_item",
                                      lambda: post(Client(), channel, body, platform="instagram"))
    mention = assert_replayed_once(how, kit_a, channel, letter, replay(how, kit_a, channel, letter))
    assert mention.text == "Cadê meu pedido? 😡 — 注文はどこ" and mention.author.handle == "cliente_insta"
    assert mention.conversation_id == "123123123"
    assert mention.posted_at == datetime.fromtimestamp(1795428942, tz=UTC)  # the entry's time, kept in the letter


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["button", "command"])
def test_x_account_activity_status_replayed_after_a_fix(kit_a, monkeypatch, how, django_capture_on_commit_callbacks):
    from channels_ingest.x import webhook

    channel = kit_a.channel
    body = json.dumps(X_ACTIVITY).encode()

    def deliver():
        response = Client().post(f"/hooks/x/{channel.webhook_key}/", body, content_type="application/json",
                                 HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=x_sign(body, channel.credentials["consumer_secret"]))
        assert response.status_code == 200

    monkeypatch.setattr(webhook, "status_item", parser_bug)
    with django_capture_on_commit_callbacks(execute=True):
        deliver()
    monkeypatch.undo()
    letter = DeadLetter.objects.get(source="webhook")
    assert "parser bug" in letter.reason
    # The rest of the delivery (the DM) was stored; only the status waits for the fix.
    assert list(Mention.objects.filter(channel=channel).values_list("kind", flat=True)) == ["direct"]
    output = replay(how, kit_a, channel, letter)
    assert "Replayed: 1 new mention" in output if how == "button" else "replayed 1, still unreadable 0" in output
    letter.refresh_from_db()
    assert letter.resolved_at is not None
    status = Mention.objects.get(channel=channel, kind="post")
    assert status.external_id == "1860000000000000001" and status.text == "@acme minha internet caiu de novo 😤"
    assert status.author.handle == "cliente" and status.author.name == "Cliente Silva"
    out = StringIO()
    call_command("replay_dead_letters", stdout=out)
    assert "replayed 0, still unreadable 0, already replayed 0" in out.getvalue()
    assert Mention.objects.filter(channel=channel).count() == 2


@pytest.mark.django_db
def test_a_whole_delivery_the_parser_crashed_on_is_replayed_after_the_fix(kit_a, monkeypatch,
                                                                         django_capture_on_commit_callbacks):
    from channels_ingest.x import webhook

    def crash(*args, **kwargs):
        raise RuntimeError("unexpected shape")  # not an item error: the whole body is dead-lettered

    channel = kit_a.channel
    body = json.dumps(X_ACTIVITY).encode()
    monkeypatch.setattr(webhook, "status_item", crash)
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(f"/hooks/x/{channel.webhook_key}/", body, content_type="application/json",
                      HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=x_sign(body, channel.credentials["consumer_secret"]))
    monkeypatch.undo()
    letter = DeadLetter.objects.get(channel=channel)
    assert letter.source == "webhook-body" and not Mention.objects.exists()
    out = StringIO()
    call_command("replay_dead_letters", "--channel", str(channel.pk), stdout=out)
    assert "replayed 1, still unreadable 0" in out.getvalue()
    assert sorted(Mention.objects.filter(channel=channel).values_list("kind", flat=True)) == ["direct", "post"]


@pytest.mark.django_db
def test_the_command_touches_only_the_tenants_it_is_given(kit_a, kit_b):
    def tweet(n: int, text: str) -> dict:
        return {"id": f"186000000000000{n:04d}", "text": text, "author_id": "42",
                "created_at": "2026-11-23T10:15:42.000Z"}

    letter_a = dead_letter_record(tenant=kit_a.tenant, channel=kit_a.channel, source="poll",
                                  reason="a parser bug (fixed since)", payload=tweet(1, "@acme fatura errada"))
    letter_b = dead_letter_record(tenant=kit_b.tenant, channel=kit_b.channel, source="poll",
                                  reason="a parser bug (fixed since)", payload=tweet(2, "@beta cartão bloqueado"))
    out = StringIO()
    # Acme's channel named under Beta finds nothing: the tenant is in the query.
    call_command("replay_dead_letters", "--tenant", "beta", "--channel", str(kit_a.channel.pk), stdout=out)
    assert "replayed 0, still unreadable 0, already replayed 0" in out.getvalue()
    call_command("replay_dead_letters", "--tenant", "beta", stdout=out)
    assert f"beta dead letter {letter_b.pk} (poll): replayed, 1 new" in out.getvalue()
    assert f"dead letter {letter_a.pk} " not in out.getvalue()
    letter_a.refresh_from_db()
    letter_b.refresh_from_db()
    assert letter_a.resolved_at is None and letter_b.resolved_at is not None
    assert not Mention.objects.filter(tenant=kit_a.tenant).exists()
    assert Mention.objects.get(tenant=kit_b.tenant).text == "@beta cartão bloqueado"
    # Every tenant when none is named; twice stores nothing twice.
    call_command("replay_dead_letters", stdout=StringIO())
    call_command("replay_dead_letters", stdout=StringIO())
    assert Mention.objects.filter(tenant=kit_a.tenant).count() == 1
    assert Mention.objects.filter(tenant=kit_b.tenant).count() == 1


@pytest.mark.django_db
def test_dry_run_stores_nothing_and_still_unreadable_letters_stay_open(kit_a, shared_dir):
    channel = fb_channel(kit_a.tenant)
    good = copy.deepcopy(shared_json(shared_dir, "feed_webhook_changes.json")["changes"]["commentAdd"])
    broken = copy.deepcopy(good)
    del broken["value"]["created_time"]
    readable = dead_letter_record(tenant=kit_a.tenant, channel=channel, source="webhook",
                                  reason="feed event: a parser bug", payload=good)
    unreadable = dead_letter_record(tenant=kit_a.tenant, channel=channel, source="webhook",
                                    reason="feed event: feed change ? has no created_time", payload=broken)
    out = StringIO()
    call_command("replay_dead_letters", "--tenant", "acme", "--dry-run", stdout=out)
    assert f"dead letter {readable.pk} (webhook): would replay, 1 item(s)" in out.getvalue()
    assert f"dead letter {unreadable.pk} (webhook): Still unreadable: feed event:" in out.getvalue()
    assert "would replay 1, still unreadable 1, already replayed 0 (dry run: nothing stored)" in out.getvalue()
    assert not Mention.objects.exists()
    assert DeadLetter.objects.filter(tenant=kit_a.tenant, resolved_at__isnull=True).count() == 2
    out = StringIO()
    call_command("replay_dead_letters", "--tenant", "acme", "--since", "2000-01-01", stdout=out)  # exits 0
    assert "replayed 1, still unreadable 1, already replayed 0" in out.getvalue()
    unreadable.refresh_from_db()
    assert unreadable.resolved_at is None and unreadable.reason == "feed event: feed change ? has no created_time"
    assert Mention.objects.get(channel=channel).text == "Good"
    out = StringIO()
    call_command("replay_dead_letters", "--since", "2999-01-01", stdout=out)
    assert "replayed 0, still unreadable 0" in out.getvalue()


@pytest.mark.django_db
def test_a_polled_facebook_comment_is_replayed_into_its_posts_thread(kit_a):
    channel = fb_channel(kit_a.tenant)
    comment = {"id": "139560936744456_139620233405726", "message": "Cadê o técnico? 😤",
               "created_time": "2026-11-23T10:15:42+0000", "from": {"id": "139560936744123", "name": "Ana"}}
    dead_letter_record(tenant=kit_a.tenant, channel=channel, source="poll", reason="a parser bug", payload=comment)
    call_command("replay_dead_letters", "--tenant", "acme", stdout=StringIO())
    mention = Mention.objects.get(channel=channel)
    assert mention.text == "Cadê o técnico? 😤" and mention.author.name == "Ana"
    assert mention.conversation_id == f"{FEED_PAGE}_139560936744456"
