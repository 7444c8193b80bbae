"""Items the database cannot hold must not hold back the rest of their page, nor the channel, forever.

Before, one item with an id longer than its column (or a lone UTF-16 surrogate that PostgreSQL's UTF-8 cannot
hold) failed the whole page: nothing stored, no dead letter, and the same page fetched (or the same webhook
delivery re-queued) at every poll, for ever.
"""

import dataclasses
import json

import pytest

from channels_ingest.models import DeadLetter, Mention, PollRun, SocialProfile
from channels_ingest.services import channel_poll, webhook_delivery_process, webhook_delivery_store
from channels_ingest.types import ProfileItem

from ..factories import ingest, mention_item

pytestmark = pytest.mark.django_db


def _letters(kit):
    return list(DeadLetter.objects.filter(tenant=kit.tenant, channel=kit.channel))


def test_an_item_with_an_id_too_long_for_any_network_is_dead_lettered_and_the_rest_stored(kit_a):
    good = mention_item("Sem sinal no centro desde cedo")
    bad = mention_item("Fatura veio em dobro", external_id="9" * 300)
    result = ingest(kit_a.channel, [good, bad], cursor={"since_id": "77"})
    assert Mention.objects.get(tenant=kit_a.tenant).text == "Sem sinal no centro desde cedo"
    assert len(result.stored_ids) == 1 and result.dead_lettered == 1 and result.duplicates == 0
    (letter,) = _letters(kit_a)
    assert "300 characters" in letter.reason and "200" in letter.reason
    assert json.loads(letter.payload)["text"] == "Fatura veio em dobro"  # the item is kept whole
    kit_a.channel.refresh_from_db()
    assert kit_a.channel.cursor == {"since_id": "77"}  # the page counts as read: no refetch loop


def test_an_author_id_too_long_is_dead_lettered_with_its_reason(kit_a):
    item = mention_item("Cadê meu reembolso?", author_id="4" * 80)
    result = ingest(kit_a.channel, [item, mention_item("Outro cliente, outro problema")])
    assert len(result.stored_ids) == 1 and result.dead_lettered == 1
    (letter,) = _letters(kit_a)
    assert "author id" in letter.reason and "80 characters" in letter.reason
    assert not SocialProfile.objects.filter(tenant=kit_a.tenant, external_id="4" * 80).exists()


def test_over_long_thread_references_are_dropped_but_the_post_is_kept(kit_a):
    item = dataclasses.replace(mention_item("Respondendo: continua sem funcionar"),
                               conversation_id="c" * 250, in_reply_to_external_id="r" * 250)
    result = ingest(kit_a.channel, [item])
    mention = Mention.objects.get(pk=result.stored_ids[0])
    assert mention.text == "Respondendo: continua sem funcionar"
    assert mention.conversation_id == "" and mention.in_reply_to_external_id == ""
    assert mention.raw["id"] == item.external_id  # what the network sent is still there in full


def test_a_lone_surrogate_from_a_cut_emoji_is_replaced_not_a_page_failure(kit_a):
    cut = json.loads('"Internet caiu de novo \\ud83d"')  # half of 😡, as a truncating API can leave it
    item = mention_item(cut)
    item = dataclasses.replace(item, raw={"id": item.external_id, "text": cut},
                               author=dataclasses.replace(item.author, name=cut))
    result = ingest(kit_a.channel, [item, mention_item("Sem sinal 📵 desde ontem")])
    assert len(result.stored_ids) == 2 and result.dead_lettered == 0
    texts = set(Mention.objects.filter(tenant=kit_a.tenant).values_list("text", flat=True))
    assert texts == {"Internet caiu de novo \ufffd", "Sem sinal 📵 desde ontem"}
    assert Mention.objects.get(tenant=kit_a.tenant, external_id=item.external_id).raw["text"].endswith("\ufffd")


def test_whatever_else_the_database_refuses_is_dead_lettered_item_by_item(kit_a, monkeypatch):
    # A failure the checks above do not foresee: the database refuses one item's row (here: a followers count
    # beyond any integer column, let through on purpose). The other items of the page are stored all the same.
    from channels_ingest import services

    monkeypatch.setattr(services, "_followers", lambda count: count)
    huge = mention_item("Perfil estranho", author_id="31")
    huge = dataclasses.replace(huge, author=ProfileItem(platform="simulator", external_id="31", handle="x",
                                                        followers_count=10**12))
    result = ingest(kit_a.channel, [mention_item("Primeiro"), huge, mention_item("Terceiro", author_id="43")])
    assert set(Mention.objects.filter(tenant=kit_a.tenant).values_list("text", flat=True)) == {"Primeiro", "Terceiro"}
    assert len(result.stored_ids) == 2 and result.dead_lettered == 1 and result.duplicates == 0
    (letter,) = _letters(kit_a)
    assert letter.reason.startswith("The database refused this item") and "Perfil estranho" in letter.payload


def test_a_followers_count_beyond_the_column_is_capped(kit_a):
    item = mention_item("Famoso reclamando", author_id="55", followers=10**12)
    result = ingest(kit_a.channel, [item])
    assert len(result.stored_ids) == 1
    assert SocialProfile.objects.get(tenant=kit_a.tenant, external_id="55").followers_count == 2**31 - 1


def test_a_poll_whose_page_holds_a_refused_item_moves_on(kit_a, monkeypatch):
    from channels_ingest.x import parse as x_parse

    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)  # drain what is there
    kit_a.simulator.add_post("@acmetelecom sem sinal de novo")
    kit_a.simulator.add_post("@acmetelecom e a fatura?")
    real = x_parse._tweet_item

    def long_ids(*args, **kwargs):  # the network sends one absurd id (the other post stays normal)
        item = real(*args, **kwargs)
        return dataclasses.replace(item, external_id="8" * 260) if "fatura" in item.text else item

    monkeypatch.setattr(x_parse, "_tweet_item", long_ids)
    run = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert run.outcome == PollRun.Outcome.OK and run.stored == 1 and run.dead_lettered == 1
    again = channel_poll(tenant_id=kit_a.tenant.pk, channel_id=kit_a.channel.pk)
    assert again.outcome == PollRun.Outcome.OK and again.stored == 0 and again.dead_lettered == 0


def test_a_webhook_delivery_with_a_refused_item_is_processed_once(kit_a, monkeypatch):
    from channels_ingest import services

    good, bad = mention_item("Sem sinal"), mention_item("Id absurdo", external_id="7" * 210)
    monkeypatch.setattr(services, "_parse_delivery",
                        lambda channel, body: services.Page(items=[good, bad], cursor=None))
    body = json.dumps({"for_user_id": kit_a.channel.external_account_id}).encode()
    delivery = webhook_delivery_store(channel=kit_a.channel, body=body)
    run = webhook_delivery_process(tenant_id=kit_a.tenant.pk, delivery_id=delivery.pk)
    assert run.outcome == PollRun.Outcome.OK and run.stored == 1 and run.dead_lettered == 1
    delivery.refresh_from_db()
    assert delivery.processed_at is not None  # not re-queued by the stale sweep
