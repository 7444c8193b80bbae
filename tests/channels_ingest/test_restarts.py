"""PostgreSQL or Redis restarted in the middle of ingest: the worker recovers, nothing is lost, nothing twice.

Both tests run a real `celery -A sac worker -B` (production settings: persistent connections with health
checks, late acks, the project's beat schedule) in a subprocess against a PostgreSQL cluster and a Redis
server that the test starts itself (restart_kit.py), never the shared ones the rest of the suite uses. The
X simulator (loopback, in this process) is the only network the worker talks to.
"""

import json
import time

import pytest

from ..factories import BRAND_ID
from .restart_kit import (
    CeleryWorker,
    Db,
    ThrowawayPostgres,
    ThrowawayRedis,
    channel_setup,
    django_env,
    django_run,
    migrate,
    require_throwaway_tools,
    wait_for,
)


@pytest.fixture(scope="module")
def cluster():
    """One throwaway cluster for the module (initdb + migrate take ~20 s); each test uses its own tenant."""
    require_throwaway_tools(redis=True)
    pg = ThrowawayPostgres()
    try:
        pg.start()
        url = pg.create_database("sac_restarts")
        migrate(django_env(url, "redis://127.0.0.1:1/0"))
        yield pg, url
    finally:
        pg.stop()


@pytest.fixture
def stack(cluster, tmp_path):
    """A throwaway Redis and a worker on it; both stopped (by their own ids) whatever the test did."""
    pg, url = cluster
    redis = ThrowawayRedis(tmp_path).start()
    env = django_env(url, redis.url)
    worker = CeleryWorker(env, tmp_path)
    try:
        yield pg, redis, worker, env, Db(url)
    finally:
        worker.stop()
        redis.kill()


def _first_poll(simulator, db: Db, channel_id: int) -> None:
    """The first poll only takes the newest page and sets since_id; what follows is read page by page."""
    simulator.add_post("@acmetelecom primeira mensagem")
    wait_for(lambda: db.stored_ids(channel_id), timeout=60, what="the first poll")


def _assert_stored_once(db: Db, channel_id: int, posted: set[str]) -> None:
    stored = db.stored_ids(channel_id)
    assert len(stored) == len(set(stored)), "a mention was stored twice"
    assert posted <= set(stored), f"lost: {sorted(posted - set(stored))[:5]}"
    linked = db.query("SELECT m.external_id, count(*) FROM inbox_casemention cm JOIN channels_ingest_mention m "
                      "ON m.id = cm.mention_id WHERE m.channel_id = %s GROUP BY 1 HAVING count(*) > 1", channel_id)
    assert linked == [], "a mention is in two cases"


def _dead_letters(db: Db, channel_id: int) -> list[tuple]:
    return db.query("SELECT source, reason FROM channels_ingest_deadletter WHERE channel_id = %s", channel_id)


def test_postgres_restarted_mid_ingest_worker_recovers_and_loses_nothing(stack, simulator):
    pg, _redis, worker, env, db = stack
    _tenant, channel_id = channel_setup(env, slug="pg-restart", base_url=simulator.base_url, brand_id=BRAND_ID)
    worker.start()
    pid = worker.proc.pid
    _first_poll(simulator, db, channel_id)

    # More than one poll's worth (a poll takes 5 pages of 100): a poll of 300 now ingests in less time than the
    # check below takes to see it, and the restart would come after the work it is meant to interrupt.
    before = {simulator.add_post(f"@acmetelecom antes do restart {i}: sem sinal 📵")["id"] for i in range(1500)}
    # Restart while the worker is in the middle of those (5 pages a poll, triage between polls).
    stored_at_restart = wait_for(lambda: len(set(db.stored_ids(channel_id)) & before), timeout=60,
                                 what="ingest to start", every=0.05)
    restarted_at = db.query("SELECT now()")[0][0]
    pg.restart(mode="immediate")
    after = {simulator.add_post(f"@acmetelecom depois do restart {i}")["id"] for i in range(20)}
    posted = before | after

    wait_for(lambda: posted <= set(db.stored_ids(channel_id)), timeout=150,
             what=f"all {len(posted)} posts to be stored after the restart")
    assert stored_at_restart < len(before), "the restart came after ingest had finished: it tested nothing"
    _assert_stored_once(db, channel_id, posted)
    cursor = json.loads(db.query("SELECT cursor::text FROM channels_ingest_channelaccount WHERE id = %s",
                                 channel_id)[0][0])
    assert int(cursor["since_id"]) == max(int(i) for i in posted), "the cursor did not reach the newest post"
    assert _dead_letters(db, channel_id) == [], "a restart is not a bad payload"
    ok_after = db.query("SELECT count(*) FROM channels_ingest_pollrun WHERE channel_id = %s AND outcome = 'ok' "
                        "AND started_at > %s", channel_id, restarted_at)[0][0]
    assert ok_after >= 1, "no successful poll after the restart"
    assert worker.alive() and worker.proc.pid == pid, f"the worker died:\n{worker.log()[-3000:]}"


X_WEBHOOK = """
    import json
    from channels_ingest.models import ChannelAccount, WebhookDelivery
    from channels_ingest.services import webhook_delivery_store
    channel = ChannelAccount.objects.get(tenant_id=int(sys.argv[1]), pk=int(sys.argv[2]))
    body = json.dumps({"for_user_id": sys.argv[3], "tweet_create_events": [{
        "id_str": sys.argv[4], "created_at": "Wed Oct 10 20:19:24 +0000 2018", "lang": "pt",
        "text": "@acmetelecom só chegou pelo webhook, com o Redis fora do ar",
        "user": {"id_str": "4242", "screen_name": "cliente_webhook", "name": "Cliente Webhook"}}]}).encode()
    delivery = webhook_delivery_store(channel=channel, body=body)
    print(delivery.pk)
"""


def test_redis_killed_and_restarted_empty_the_database_sweeps_finish_the_work(stack, simulator):
    _pg, redis, worker, env, db = stack
    tenant_id, channel_id = channel_setup(env, slug="redis-restart", base_url=simulator.base_url,
                                          brand_id=BRAND_ID)
    worker.start()
    pid = worker.proc.pid
    _first_poll(simulator, db, channel_id)
    first = {simulator.add_post(f"@acmetelecom com o Redis no ar {i}")["id"] for i in range(20)}
    wait_for(lambda: first <= set(db.stored_ids(channel_id)), timeout=60, what="the first posts")

    # Redis dies without saving: every queued and unacknowledged message is gone.
    redis.kill()
    during = {simulator.add_post(f"@acmetelecom enquanto o Redis está fora {i}: não funciona!")["id"]
              for i in range(30)}
    # A webhook arrives meanwhile: stored and acknowledged although its task cannot be enqueued.
    webhook_only = "1999999999999999999"
    delivery_id = int(django_run(env, X_WEBHOOK, str(tenant_id), str(channel_id), BRAND_ID, webhook_only))
    time.sleep(3)
    redis.start()  # same port, nothing saved: every message queued before the kill is gone

    posted = first | during | {webhook_only}
    wait_for(lambda: posted <= set(db.stored_ids(channel_id)), timeout=150,
             what="the posts and the webhook item to be stored after Redis came back")
    # Triage messages lost with Redis are picked up by mentions_triage_sweep (every minute, 30 s grace).
    wait_for(lambda: db.query("SELECT count(*) FROM channels_ingest_mention WHERE channel_id = %s "
                              "AND triaged_at IS NULL", channel_id) == [(0,)], timeout=180,
             what="every mention to be triaged", every=1)
    wait_for(lambda: db.query("SELECT processed_at IS NOT NULL FROM channels_ingest_webhookdelivery WHERE id = %s",
                              delivery_id) == [(True,)], timeout=90, what="the webhook delivery to be processed")
    _assert_stored_once(db, channel_id, posted)
    assert _dead_letters(db, channel_id) == []
    assert worker.alive() and worker.proc.pid == pid, f"the worker died:\n{worker.log()[-3000:]}"
    assert "Connection to broker lost" in worker.log() or "Cannot connect to redis" in worker.log()
