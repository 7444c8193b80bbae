"""A worker SIGKILLed in the middle of sending a reply (in a subprocess, as a real kill): the reply is never posted
twice. Killed after the network took the post, SAC finds it there and marks it sent; killed before, it is failed
for a human to check and sent once when they press Send again."""

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

from inbox.models import Reply
from inbox.services import case_claim_next, replies_stale_sweep, reply_create, reply_retry

from ..factories import open_case

ROOT = Path(__file__).resolve().parents[2]

# The outbound task's service, in its own process, held at one point of the send: the parent kills it there.
WORKER = textwrap.dedent("""
    import sys, time, django
    django.setup()
    from inbox.services import replies
    when = sys.argv[3]
    real_connector_for = replies.connector_for
    def connector_for(channel):
        connector = real_connector_for(channel)
        real_send = connector.send
        def send(message):
            if when == "before":
                print("about-to-post", flush=True)
                time.sleep(30)
            external_id = real_send(message)
            print("posted", flush=True)
            time.sleep(30)  # the network has it; SAC has not written it down yet
            return external_id
        connector.send = send
        return connector
    replies.connector_for = connector_for
    replies.reply_deliver(tenant_id=int(sys.argv[1]), reply_id=int(sys.argv[2]))
    print("finished", flush=True)
""")


def _kill_mid_send(kit, reply: Reply, when: str) -> None:
    settings_dict = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sac.settings.test",
           "DATABASE_URL": f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST']}:"
                           f"{settings_dict['PORT']}/{settings_dict['NAME']}"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(kit.tenant.pk), str(reply.pk), when], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, text=True)
    expected = "about-to-post" if when == "before" else "posted"
    for line in worker.stdout:
        if line.strip() == expected:
            os.kill(worker.pid, signal.SIGKILL)
            break
    worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL


def _queued_reply(kit, text: str, monkeypatch) -> Reply:
    from inbox import tasks

    case = open_case(kit)
    case_claim_next(tenant=kit.tenant, membership=kit.agent)
    case.refresh_from_db()
    # Queued only: the outbound task runs in the worker subprocess, not here (tasks are eager in the tests).
    with monkeypatch.context() as patched:
        patched.setattr(tasks.reply_deliver, "delay", lambda *args, **kwargs: None)
        return reply_create(tenant=kit.tenant, membership=kit.agent, case=case, text=text, visibility="public",
                            idempotency_key=f"killed-{text[:20]}")


def _posted(kit, text: str) -> list[dict]:
    return [s for s in kit.simulator.sent if s["text"] == text]


def _five_minutes_later(reply: Reply) -> None:
    """The stale sweep takes replies stuck in `sending` for 5 minutes: move the start back rather than wait."""
    Reply.objects.filter(pk=reply.pk).update(sending_started_at=timezone.now() - timedelta(minutes=6))


@pytest.mark.django_db(transaction=True)
def test_killed_after_the_network_took_the_post_it_is_found_there_not_posted_again(
        kit_a, django_capture_on_commit_callbacks, monkeypatch):
    reply = _queued_reply(kit_a, "Normalizado, pode testar!", monkeypatch)
    _kill_mid_send(kit_a, reply, "after")
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENDING and len(_posted(kit_a, reply.text)) == 1
    _five_minutes_later(reply)
    with django_capture_on_commit_callbacks(execute=True):
        replies_stale_sweep()  # fails it as unknown, then looks on X (looking posts nothing)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT and reply.external_id == _posted(kit_a, reply.text)[0]["id"]
    assert len(_posted(kit_a, reply.text)) == 1


@pytest.mark.django_db(transaction=True)
def test_killed_before_posting_it_waits_for_a_human_and_is_sent_once(kit_a, django_capture_on_commit_callbacks,
                                                                      monkeypatch):
    reply = _queued_reply(kit_a, "Vamos verificar sua linha agora.", monkeypatch)
    _kill_mid_send(kit_a, reply, "before")
    _five_minutes_later(reply)
    with django_capture_on_commit_callbacks(execute=True):
        replies_stale_sweep()
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and reply.error.startswith("Delivery unknown:")
    assert _posted(kit_a, reply.text) == []
    # The agent checked X and presses Send again: posted once, and a second press changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        reply_retry(tenant=kit_a.tenant, membership=kit_a.agent, reply=reply, outcome_checked=True)
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT and len(_posted(kit_a, reply.text)) == 1
