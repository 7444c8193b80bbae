"""Surveys and CRM figures: metrics selectors over many answers, and the CRM panel's latency with the
fake CRM up (cold and cached), hanging (one timeout) and then behind the open circuit breaker.

Seeds (once, then reuses) its own PostgreSQL database `sac_bench_surveys` with --answers answered surveys
(default 50,000; 1.25 invitations per answer) for one tenant over 90 days, and starts the fake CRM on
loopback. Redis: $REDIS_URL (default redis://127.0.0.1:6379/15). The last line is one JSON object.

    .venv/bin/python bench/surveys_crm.py [--answers 50000]
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BASE_URL = os.environ.get("SAC_BENCH_PG", "postgres://sac:sac@127.0.0.1:5432")
DB_NAME = "sac_bench_surveys"


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{BASE_URL}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["DATABASE_URL"] = f"{BASE_URL}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "sac.settings.test"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(answers: int):  # noqa: ANN201
    from django.utils import timezone

    from channels_ingest.models import Platform, SocialProfile
    from channels_ingest.services import channel_create
    from inbox.models import Case
    from sac.models import Tenant
    from sac.services import tenant_create
    from surveys.models import SurveyInvitation, SurveyResponse

    tenant = Tenant.objects.filter(slug="bench").first()
    if tenant is not None and SurveyResponse.objects.filter(tenant=tenant).count() >= answers:
        return tenant
    if tenant is not None:
        tenant.delete()
    tenant = tenant_create(slug="bench", name="Bench")
    channels = [channel_create(tenant=tenant, platform=Platform.SIMULATOR, name=f"ch{i}",
                               external_account_id=str(i), handle=f"ch{i}", api_base_url="http://127.0.0.1:9",
                               credentials={"bearer_token": "x"}) for i in range(3)]
    rng, now = random.Random(7), timezone.now()
    invitations = int(answers * 1.25)
    profiles = SocialProfile.objects.bulk_create([
        SocialProfile(tenant=tenant, platform="simulator", external_id=str(i), handle=f"c{i}")
        for i in range(invitations)], batch_size=5000)
    cases = []
    for i in range(invitations):
        at = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
        cases.append(Case(tenant=tenant, protocol=f"B-{i:08d}", status="resolved", channel=rng.choice(channels),
                          customer=profiles[i], subject="x", category=rng.choice(["billing", "outage", "sales"]),
                          first_message_at=at, last_customer_message_at=at, resolved_at=at))
    cases = Case.objects.bulk_create(cases, batch_size=5000)
    invs = SurveyInvitation.objects.bulk_create([
        SurveyInvitation(tenant=tenant, case=c, channel_id=c.channel_id, customer_id=c.customer_id, state="sent",
                         due_at=c.resolved_at, sent_at=c.resolved_at, idempotency_key=f"b{c.pk}",
                         token_digest=f"{c.pk:064d}", expires_at=c.resolved_at + timedelta(days=7))
        for c in cases], batch_size=5000)
    SurveyResponse.objects.bulk_create([
        SurveyResponse(tenant=tenant, invitation=inv, case_id=inv.case_id, csat=rng.randint(1, 5),
                       nps=rng.randint(0, 10)) for inv in rng.sample(invs, answers)], batch_size=5000)
    return tenant


def timed(fn, repeat: int = 5) -> float:  # noqa: ANN001
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(runs), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=50_000)
    args = parser.parse_args()
    ensure_database()
    tenant = seed(args.answers)

    from django.core.cache import cache

    from crm_bridge.fake_crm import FakeCrmServer
    from crm_bridge.models import CrmConfig
    from crm_bridge.selectors import crm_panel
    from crm_bridge.services import HUBSPOT_PRESET
    from inbox.models import Case
    from surveys import selectors

    f = selectors.period(30)
    out: dict[str, object] = {"answers": args.answers}
    out["metrics_30d_ms"] = timed(lambda: selectors.survey_metrics(tenant, f))
    out["metrics_by_category_ms"] = timed(lambda: selectors.survey_metrics_by(tenant, f, "category"))
    out["trend_90d_weekly_ms"] = timed(lambda: selectors.survey_trend(tenant, selectors.period(90), "week"))
    m = selectors.survey_metrics(tenant, f)
    print(f"30 days: {m.invitations_sent} sent, {m.answers} answers, CSAT {m.csat_pct}%, NPS {m.nps}, "
          f"response rate {m.response_rate}%")

    crm = FakeCrmServer(port=0).start()
    try:
        CrmConfig.objects.update_or_create(tenant=tenant, defaults={
            "kind": "rest", "base_url": crm.base_url, "timeout_seconds": 0.5,
            "auth_header": {"name": "Authorization", "value": "Bearer bench"}, **HUBSPOT_PRESET})
        case = Case.objects.filter(tenant=tenant).select_related("customer", "tenant").first()
        case.customer.handle = "carol_tech"
        case.customer.save(update_fields=["handle"])
        cache.clear()
        out["crm_panel_cold_ms"] = timed(lambda: crm_panel(tenant, case), repeat=1)
        out["crm_panel_cached_ms"] = timed(lambda: crm_panel(tenant, case))
        cache.clear()
        crm.delay_seconds = 5
        out["crm_panel_crm_hanging_ms"] = timed(lambda: crm_panel(tenant, case), repeat=1)
        for _ in range(3):
            crm_panel(tenant, case)
        out["crm_panel_breaker_open_ms"] = timed(lambda: crm_panel(tenant, case))
        out["crm_panel_says"] = "unavailable" if crm_panel(tenant, case).unavailable else "ok"
    finally:
        crm.delay_seconds = 0
        crm.stop()
        cache.clear()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
