"""A poll worker SIGKILLed in the middle of a batch loses nothing and duplicates nothing on restart."""

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from channels_ingest.models import ChannelAccount, Mention
from channels_ingest.services import channel_poll

ROOT = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent("""
    import sys, time, django
    django.setup()
    from channels_ingest import services
    from channels_ingest.models import Mention
    real = services.rows_insert
    def slow(model, *args, **kwargs):
        written = real(model, *args, **kwargs)
        if model is Mention:
            # Inside ingest_batch's transaction, the page's mentions written and its cursor not yet: the parent
            # kills us here, mid-batch.
            print("in-batch", flush=True)
            time.sleep(0.4)
        return written
    services.rows_insert = slow
    services.channel_poll(tenant_id=int(sys.argv[1]), channel_id=int(sys.argv[2]))
    print("finished", flush=True)
""")


@pytest.mark.django_db(transaction=True)
def test_sigkilled_worker_mid_batch_loses_and_duplicates_nothing(kit_a):
    sim, channel = kit_a.simulator, kit_a.channel
    sim.add_post("@acme primeira")
    channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)  # sets since_id
    posted = {sim.add_post(f"@acme post {i} 🚨 sem sinal")["id"] for i in range(250)}

    settings_dict = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sac.settings.test",
           "DATABASE_URL": f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST']}:"
                           f"{settings_dict['PORT']}/{settings_dict['NAME']}"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(kit_a.tenant.pk), str(channel.pk)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, text=True)
    seen = 0
    for line in worker.stdout:
        if line.strip() == "in-batch":
            seen += 1
            if seen == 3:  # two batches committed, the third in flight
                os.kill(worker.pid, signal.SIGKILL)
                break
    worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL
    partial = Mention.objects.filter(channel=channel, external_id__in=posted).count()
    assert 0 < partial < len(posted)

    # The killed worker's lease expires (moved into the past here rather than waited for); the next polls resume
    # from the saved cursor.
    for _ in range(5):
        ChannelAccount.objects.filter(pk=channel.pk).update(poll_lease_until=timezone.now() - timedelta(seconds=1))
        channel_poll(tenant_id=kit_a.tenant.pk, channel_id=channel.pk)
    stored = list(Mention.objects.filter(channel=channel, external_id__in=posted).values_list("external_id",
                                                                                            flat=True))
    assert len(stored) == len(set(stored)) == len(posted)
