"""`manage.py triage --jsonl`: the documented line format, bad lines, blank lines, flushing, --tenant."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from inbox.models import Case, MentionTriage, RoutingRule

KEYS = ["id", "language", "sentiment", "sentiment_score", "category", "requires_response",
        "requires_response_score", "personal_data", "priority", "private_suggested"]
ROOT = Path(__file__).resolve().parents[3]


def _run(lines: list[str], **options) -> list[dict]:
    out = io.StringIO()
    call_command("triage", jsonl=True, stdin=io.BytesIO("\n".join(lines).encode() + b"\n"), stdout=out, **options)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_it_writes_one_documented_line_per_input_line_in_order():
    rows = _run([
        json.dumps({"id": 1, "text": "😡 meu CPF é 529.982.247-25 e vocês não resolvem, vou no Procon",
                    "platform": "x", "author_followers": 12000}),
        json.dumps({"id": "b", "text": "obrigado, resolvido!"}),
        json.dumps({"text": "how do I change my plan?"}),
    ])
    assert [r["id"] for r in rows] == [1, "b", None]
    for row in rows:
        assert list(row) == KEYS
        assert row["language"] in ("pt", "en", "es", "und")
        assert row["sentiment"] in ("negative", "neutral", "positive") and -1 <= row["sentiment_score"] <= 1
        assert row["category"] in ("complaint", "question", "request", "praise", "suggestion", "noise")
        assert isinstance(row["requires_response"], bool) and 0 <= row["requires_response_score"] <= 1
        assert isinstance(row["priority"], int) and 0 <= row["priority"] <= 100
    first = rows[0]
    assert first["personal_data"] == [{"kind": "cpf", "start": 12, "end": 26}]  # code points: the emoji is one
    assert first["private_suggested"] and first["requires_response"] and first["category"] == "complaint"
    assert rows[1]["requires_response"] is False and rows[2]["category"] == "question"


def test_bad_lines_give_errors_and_the_run_goes_on():
    out = io.StringIO()
    data = (b'not json\n\n   \n{"id": 7}\n["a"]\n{"id": 8, "text": 5}\n'
            b'{"id": 9, "text": "ok", "platform": "myspace"}\n'
            b'{"id": 10, "text": "x", "author_followers": -1}\n\xff\xfe\n{"id": 11, "text": "sem sinal"}\n')
    call_command("triage", jsonl=True, stdin=io.BytesIO(data), stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r.get("id") for r in rows] == [None, 7, None, 8, 9, 10, None, 11]  # blank lines skipped
    assert all("error" in r for r in rows[:-1]) and "error" not in rows[-1]
    assert rows[0]["error"].startswith("invalid JSON") and "text" in rows[1]["error"]


def test_lines_are_flushed_as_they_go():
    """A reader gets the answer to a line before it sends the next (a pipe, not a batch)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sac.settings.test"}
    proc = subprocess.Popen([sys.executable, "manage.py", "triage", "--jsonl"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b'{"id": "first", "text": "sem internet"}\n')
        proc.stdin.flush()
        line = proc.stdout.readline()  # would block forever if the command buffered its output
        assert json.loads(line)["id"] == "first"
        proc.stdin.write(b'{"id": "second", "text": "thanks"}\n')
        proc.stdin.close()
        assert json.loads(proc.stdout.readline())["id"] == "second"
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.django_db
def test_with_a_tenant_it_uses_its_rules_and_writes_nothing(kit_a, kit_b):
    RoutingRule.objects.create(tenant=kit_a.tenant, name="ignore giveaways", keywords="sorteio", auto_ignore=True)
    line = json.dumps({"id": 1, "text": "sorteio da acme não funciona, como participo?"})
    before = (Case.objects.count(), MentionTriage.objects.count())
    assert _run([line], tenant=kit_a.tenant.slug)[0]["requires_response"] is False
    assert _run([line], tenant=kit_b.tenant.slug)[0]["requires_response"] is True  # B has no such rule
    assert (Case.objects.count(), MentionTriage.objects.count()) == before
    with pytest.raises(CommandError, match="no tenant"):
        _run([line], tenant="nope")
