import csv
import io
import json

import pytest
from django.core.management import call_command

from channels_ingest.models import ChannelAccount, Mention
from inbox.models import Case, Reply
from sac.models import Tenant
from sla.models import SLAEvent, SLANotification

pytestmark = pytest.mark.django_db

HEADER = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
# Thread 1: the root names no brand by handle (a number stands in), a follow-up before the brand's answer, the
# brand (sprintcare) answers 30 minutes after the first message. Thread 2: no answer, brand known by @handle.
# Record 6 is malformed.
SMALL = HEADER + (
    '1,c1,True,Tue Oct 31 10:00:00 +0000 2017,@115712 my phone is dead,3,\n'
    '2,c1,True,Tue Oct 31 10:10:00 +0000 2017,hello??,,1\n'
    '3,sprintcare,False,Tue Oct 31 10:30:00 +0000 2017,@c1 sorry! DM us,4,1\n'
    '4,c1,True,Tue Oct 31 10:40:00 +0000 2017,done,5,3\n'
    '5,sprintcare,False,Tue Oct 31 12:00:00 +0000 2017,@c1 fixed,,4\n'
    'x,broken,maybe,yesterday,?,,\n'
    '7,c2,True,Wed Nov 01 09:00:00 +0000 2017,@SprintCare still no signal,,\n'
)


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_twcs_threads_become_cases_with_their_real_times_and_nothing_is_sent(tmp_path, capsys,
                                                                             django_capture_on_commit_callbacks):
    path = tmp_path / "small.csv"
    path.write_text(SMALL)
    with django_capture_on_commit_callbacks() as callbacks:
        out, _ = _run("import_threads", "--tenant", "hist", "--format", "twcs", str(path))
    assert "2 threads imported" in out
    assert "skipped record 6" in capsys.readouterr().err
    assert callbacks == []  # no reply, survey, notification or CRM push queued
    tenant = Tenant.objects.get(slug="hist")
    assert list(ChannelAccount.objects.filter(tenant=tenant).values_list("name", "status")) == [
        ("@sprintcare", "paused")]
    first = Case.objects.get(tenant=tenant, case_mentions__mention__external_id="1")
    assert first.case_mentions.count() == 3  # root, the follow-up, and the later "done"
    assert (first.first_response_at - first.first_message_at).total_seconds() == 30 * 60
    assert sorted(first.replies.values_list("external_id", "state")) == [("3", "sent"), ("5", "sent")]
    assert Case.objects.get(tenant=tenant, case_mentions__mention__external_id="7").first_response_at is None
    assert not Mention.objects.filter(tenant=tenant, triaged_at__isnull=True).exists()
    assert SLAEvent.objects.get(case=first).met is True and not SLANotification.objects.exists()

    out, _ = _run("import_threads", "--tenant", "hist", "--format", "twcs", str(path))
    assert "0 threads imported, 2 already there" in out
    assert Case.objects.filter(tenant=tenant).count() == 2 and Reply.objects.filter(tenant=tenant).count() == 2

    report = json.loads(_run("sla_report", "--tenant", "hist", "--json")[0])
    assert report == {"tenant": "hist", "overall": {
        "cases": 2, "answered": 1, "first_response_median_min": 30.0, "first_response_p90_min": 30.0,
        "answered_within_60_share": 1.0, "answered_within_120_share": 1.0},
        "by_channel": {"@sprintcare": {
            "cases": 2, "answered": 1, "first_response_median_min": 30.0, "first_response_p90_min": 30.0,
            "answered_within_60_share": 1.0, "answered_within_120_share": 1.0}}}
    bounded = json.loads(_run("sla_report", "--tenant", "hist", "--json", "--since", "2017-11-01")[0])
    assert bounded["overall"]["cases"] == 1 and bounded["overall"]["answered"] == 0


def test_the_recorded_twcs_sample_imports(shared_dir, tmp_path):
    source = shared_dir / "datasets" / "twcs" / "twcs_head_5000.csv"
    rows = list(csv.reader(source.open(newline="", encoding="utf-8")))[:301]
    path = tmp_path / "head.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    out, _ = _run("import_threads", "--tenant", "twcs", "--format", "twcs", str(path))
    tenant = Tenant.objects.get(slug="twcs")
    n = Case.objects.filter(tenant=tenant).count()
    assert n > 30 and f"{n} threads imported" in out
    report = json.loads(_run("sla_report", "--tenant", "twcs", "--json")[0])
    assert report["overall"]["cases"] == n and 0 <= report["overall"]["answered_within_60_share"] <= 1
    assert sum(c["cases"] for c in report["by_channel"].values()) == n


def test_ibm_dialogs_import_with_the_agent_answer_timed_by_its_tweet_id(shared_dir, tmp_path, capsys):
    dialogs = json.loads((shared_dir / "datasets" / "twcs" / "ibm_twitter_customer_care" / "dev.json").read_text())
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(dialogs[:20] + [{"dialogHeader": {}}]))
    out, _ = _run("import_threads", "--tenant", "ibm", "--format", "ibm", str(path))
    assert "20 threads imported" in out and "skipped record 21" in capsys.readouterr().err
    tenant = Tenant.objects.get(slug="ibm")
    case = Case.objects.get(tenant=tenant, case_mentions__mention__external_id="1245403438755852288")
    assert case.channel.name == "@TeamYouTube"
    # The answer's tweet id 1245425308704149506 was posted at 2020-04-01T18:58:26.7Z (snowflake time).
    assert case.first_response_at.isoformat().startswith("2020-04-01T18:58:2")
    assert case.replies.get().external_id == "1245425308704149506"
