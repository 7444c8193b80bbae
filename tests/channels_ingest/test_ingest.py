import json
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_ingest.models import ChannelAccount, DeadLetter, Mention, PollRun
from channels_ingest.services import channel_poll, schedule_due_polls
from channels_ingest.signals import mentions_stored
from channels_ingest.x.parse import parse_mentions_page
from inbox.models import Case

from ..factories import ingest, mention_item


@pytest.fixture
def announced():
    calls: list[tuple[int, list[int]]] = []

    def receiver(sender, *, tenant_id, mention_ids, **kwargs):
        calls.append((tenant_id, list(mention_ids)))

    mentions_stored.connect(receiver, dispatch_uid="test-announced")
    yield calls
    mentions_stored.disconnect(dispatch_uid="test-announced")


def test_the_same_page_ingested_twice_stores_each_mention_once(kit_a, announced, django_capture_on_commit_callbacks):
    items = [mention_item("Sem internet desde ontem!"), mention_item("Quando volta o sinal?", author_id="43")]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = ingest(kit_a.channel, items, cursor={"since_id": "2"})
        second = ingest(kit_a.channel, items, cursor={"since_id": "2"})
    assert len(first.stored_ids) == 2 and first.duplicates == 0
    assert second.stored_ids == [] and second.duplicates == 2
    assert Mention.objects.filter(tenant=kit_a.tenant).count() == 2
    # Only the first call had anything new to announce.
    assert len(callbacks) == 1
    kit_a.channel.refresh_from_db()
    assert kit_a.channel.cursor == {"since_id": "2"}


def test_mentions_are_stored_per_tenant_even_with_the_same_external_id(kit_a, kit_b):
    ingest(kit_a.channel, [mention_item("oi", external_id="777")])
    ingest(kit_b.channel, [mention_item("oi", external_id="777")])
    assert Mention.objects.filter(external_id="777").count() == 2


def test_a_poll_stores_what_the_simulator_serves_and_triage_opens_cases(kit_a):
    kit_a.simulator.add_post("@acmetelecom minha internet não funciona há 3 dias, absurdo!")
    kit_a.simulator.add_post("@acmetelecom como faço para mudar meu plano?", lang="pt")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert run.outcome == PollRun.Outcome.OK
    assert run.stored >= 2
    texts = set(Mention.objects.filter(tenant=kit_a.tenant).values_list("text", flat=True))
    assert "@acmetelecom minha internet não funciona há 3 dias, absurdo!" in texts
    kit_a.channel.refresh_from_db()
    assert kit_a.channel.cursor["since_id"]
    again = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert again.stored == 0  # since_id moved past everything already stored


def test_a_malformed_page_goes_to_the_dead_letters_and_polling_goes_on(kit_a):
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)  # drain what is there
    kit_a.simulator.inject_fault("invalid_json")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert run.outcome == PollRun.Outcome.FAILED
    letter = DeadLetter.objects.get(tenant=kit_a.tenant, channel=kit_a.channel)
    assert "invalid JSON" in letter.reason and letter.payload
    kit_a.channel.refresh_from_db()
    assert kit_a.channel.status == ChannelAccount.Status.ACTIVE

    kit_a.simulator.add_post("@acmetelecom depois do erro, ainda sem sinal aqui")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert run.outcome == PollRun.Outcome.OK and run.stored == 1


def test_one_bad_item_is_dead_lettered_and_the_rest_of_the_page_stored(kit_a):
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    kit_a.simulator.add_post("@acmetelecom fatura errada de novo")
    kit_a.simulator.inject_fault("bad_item")
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert run.outcome == PollRun.Outcome.OK
    assert run.stored >= 1 and run.dead_lettered == 1
    letter = DeadLetter.objects.get(tenant=kit_a.tenant)
    assert "id" in letter.reason
    assert json.loads(letter.payload)  # the item is kept whole


def test_a_rate_limit_pushes_the_next_poll_back(kit_a):
    kit_a.simulator.inject_fault("rate_limit")
    before = timezone.now()
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert run.outcome == PollRun.Outcome.FAILED and "rate limit" in run.error
    kit_a.channel.refresh_from_db()
    assert kit_a.channel.next_poll_at > before
    assert kit_a.channel.status == ChannelAccount.Status.ACTIVE


def test_refused_credentials_mark_the_channel_for_reauthorisation(kit_a):
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(credentials={})
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert run.outcome == PollRun.Outcome.FAILED
    kit_a.channel.refresh_from_db()
    assert kit_a.channel.status == ChannelAccount.Status.NEEDS_REAUTH


def test_a_channel_is_not_polled_while_another_worker_holds_it(kit_a):
    ChannelAccount.objects.filter(pk=kit_a.channel.pk).update(poll_lease_until=timezone.now() + timedelta(minutes=1))
    assert channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk) is None


def test_a_poll_with_another_tenants_id_does_nothing(kit_a, kit_b):
    assert channel_poll(tenant_id=kit_b.tenant.pk, channel_id=kit_a.channel.pk) is None
    assert not PollRun.objects.filter(channel=kit_a.channel).exists()


def test_schedule_due_polls_claims_due_channels_and_pushes_them_forward(kit_a, kit_b):
    later = timezone.now() + timedelta(hours=1)
    ChannelAccount.objects.filter(pk=kit_b.channel.pk).update(next_poll_at=later)
    due = [(tenant_id, channel_id) for tenant_id, channel_id, _ in schedule_due_polls()]
    assert (kit_a.tenant.pk, kit_a.channel.pk) in due
    assert (kit_b.tenant.pk, kit_b.channel.pk) not in due
    kit_a.channel.refresh_from_db()
    assert kit_a.channel.next_poll_at > timezone.now()
    assert schedule_due_polls() == []  # nothing due twice


def test_the_parser_keeps_paging_state_until_the_last_page():
    cursor = {"since_id": "100"}
    body = {"data": [{"id": "105", "text": "a", "created_at": "2026-11-23T10:00:00.000Z", "author_id": "1"}],
            "meta": {"newest_id": "105", "oldest_id": "105", "result_count": 1, "next_token": "abc"}}
    page = parse_mentions_page("x", body, cursor=cursor, follow_pages=True)
    assert page.more and page.cursor == {"since_id": "100", "next_token": "abc", "newest_seen": "105"}
    last = {"data": [{"id": "101", "text": "b", "created_at": "2026-11-23T09:00:00.000Z"}],
            "meta": {"newest_id": "101", "oldest_id": "101", "result_count": 1}}
    page = parse_mentions_page("x", last, cursor=page.cursor, follow_pages=True)
    assert not page.more and page.cursor == {"since_id": "105", "next_token": None, "newest_seen": None}


def test_the_parser_reads_the_recorded_x_mentions_page(shared_dir):
    recording = json.loads((shared_dir / "fixtures/x/v2_get_users_mentions.json").read_text())
    body = recording["interactions"][0]["response"]["body"]
    page = parse_mentions_page("x", body, cursor={}, follow_pages=False)
    # The recording asked for default fields only (no created_at): every tweet is refused, none lost.
    assert len(page.items) + len(page.bad_items) == body["meta"]["result_count"]


def test_the_parser_reads_the_documented_mentions_example(shared_dir):
    body = json.loads((shared_dir / "fixtures/x/sns_sdks_python_twitter/timeline_timeline_mentions.json").read_text())
    page = parse_mentions_page("x", body, cursor={}, follow_pages=False)
    assert len(page.items) == len(body["data"]) and not page.bad_items
    assert page.cursor["since_id"] == body["meta"]["newest_id"]


def test_the_parser_builds_profiles_and_threads_from_the_documented_expansions(shared_dir):
    body = json.loads((shared_dir / "fixtures/x/sns_sdks_python_twitter/searches_search_tweets_query.json").read_text())
    page = parse_mentions_page("x", body, cursor={}, follow_pages=False)
    assert page.items and not page.bad_items
    with_author = [i for i in page.items if i.author is not None]
    assert with_author and all(i.author.handle for i in with_author)


def test_no_case_is_opened_by_storing_alone(kit_a):
    ingest(kit_a.channel, [mention_item("Sem internet!")])
    assert not Case.objects.filter(tenant=kit_a.tenant).exists()
    assert Mention.objects.get(tenant=kit_a.tenant).triaged_at is None


def test_a_nul_character_in_a_post_is_dropped_not_a_failure_that_blocks_the_channel(kit_a):
    item = mention_item("sem internet\x00 desde ontem")
    item = type(item)(**{**item.__dict__, "raw": {"id": item.external_id, "text": "sem internet\x00"}})
    result = ingest(kit_a.channel, [item])
    mention = Mention.objects.get(pk=result.stored_ids[0])
    assert mention.text == "sem internet desde ontem" and mention.raw["text"] == "sem internet"
