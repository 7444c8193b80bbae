"""Replay real customer-care history through SAC and check its SLA figures against pandas.

Imports the twcs CSV with `manage.py import_threads` (into --tenant, default `twcs-replay`; a re-run changes
nothing), prints `manage.py sla_report --json`, then computes the same figures directly from the CSV with
pandas under the same rules (independently of SAC's parser: thread roots found by following
in_response_to_tweet_id upwards, not by walking replies downwards) and prints both side by side.
Exit status 1 when any figure differs.

Rules (the issue's): a case per thread root (an inbound tweet that answers nobody); the brand is the author
of the earliest non-inbound tweet of the thread, else the first @handle of the root that is a brand known in
the file; the case starts at the root author's earliest inbound tweet in the thread; first response = the
brand's earliest tweet in the thread; calendar minutes; percentiles interpolate linearly; shares over answered
cases; figures rounded to 6 decimals (floating-point interpolation may differ in the last bits).

    DATABASE_URL=… .venv/bin/python bench/sla_replay.py [--file ../shared/datasets/twcs/twcs_head_5000.csv]
"""

import argparse
import io
import json
import os
import re
import sys
from contextlib import redirect_stderr
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = ROOT.parent / "shared" / "datasets" / "twcs" / "twcs_head_5000.csv"
KEYS = ("cases", "answered", "first_response_median_min", "first_response_p90_min", "answered_within_60_share",
        "answered_within_120_share")


def _figures(minutes: pd.Series, cases: int) -> dict:
    answered = minutes.dropna()
    n = len(answered)

    def r(x: float | None) -> float | None:
        return None if x is None else round(float(x), 6)

    return {
        "cases": int(cases), "answered": int(n),
        "first_response_median_min": r(answered.quantile(0.5)) if n else None,
        "first_response_p90_min": r(answered.quantile(0.9)) if n else None,
        "answered_within_60_share": r((answered <= 60).sum() / n) if n else None,
        "answered_within_120_share": r((answered <= 120).sum() / n) if n else None,
    }


def pandas_report(path: Path, tenant: str) -> dict:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = df[df["tweet_id"].str.fullmatch(r"\d+") & (df["author_id"] != "") & df["inbound"].isin(["True", "False"])]
    df = df.assign(created=pd.to_datetime(df["created_at"], format="%a %b %d %H:%M:%S %z %Y", utc=True,
                                          errors="coerce"))
    df = df[df["created"].notna() & ~df["tweet_id"].duplicated(keep=False)].copy()
    df["inbound"] = df["inbound"] == "True"
    df["parent"] = df["in_response_to_tweet_id"].map(lambda v: str(int(float(v))) if v else "")
    # Each tweet's root: follow the parent links upwards until a tweet without a parent (or a parent missing
    # from the file, which leaves the tweet outside every thread).
    parent_of = dict(zip(df["tweet_id"], df["parent"], strict=True))
    df["root"] = df["tweet_id"].where(df["parent"] == "", None)
    pending = df["root"].isna()
    up = df["parent"].copy()
    for _ in range(10_000):
        if not pending.any():
            break
        top = up.map(lambda t: parent_of.get(t))
        found = pending & (top == "")
        df.loc[found, "root"] = up[found]
        lost = pending & top.isna()
        pending = pending & ~found & ~lost
        up = top.where(pending, up)
    roots = df[df["inbound"] & (df["parent"] == "")].set_index("tweet_id")
    threads = df[df["root"].isin(roots.index)]
    ours = threads[~threads["inbound"]].sort_values(["created", "tweet_id"])
    first_ours = ours.groupby("root").first()
    brands = {a.lower(): a for a in df.loc[~df["inbound"], "author_id"]}

    def brand_of(root_id: str) -> str:
        if root_id in first_ours.index:
            return first_ours.at[root_id, "author_id"]
        return next((brands[h.lower()] for h in re.findall(r"@(\w+)", roots.at[root_id, "text"])
                     if h.lower() in brands), "")

    cases = pd.DataFrame({"root": roots.index})
    cases["brand"] = cases["root"].map(brand_of)
    cases = cases[cases["brand"] != ""]
    cases["customer"] = cases["root"].map(roots["author_id"])
    mine = threads.merge(cases[["root", "customer"]], on="root")
    mine = mine[mine["inbound"] & (mine["author_id"] == mine["customer"])]
    cases["start"] = cases["root"].map(mine.groupby("root")["created"].min())
    brand_tweets = threads.merge(cases[["root", "brand"]], on="root")
    brand_tweets = brand_tweets[~brand_tweets["inbound"] & (brand_tweets["author_id"] == brand_tweets["brand"])]
    cases["first_response"] = cases["root"].map(brand_tweets.groupby("root")["created"].min())
    cases["minutes"] = (cases["first_response"] - cases["start"]).dt.total_seconds() / 60
    cases["channel"] = "@" + cases["brand"]
    return {
        "tenant": tenant,
        "overall": _figures(cases["minutes"], len(cases)),
        "by_channel": {name: _figures(group["minutes"], len(group))
                       for name, group in sorted(cases.groupby("channel"), key=lambda kv: kv[0])},
    }


def sac_report(path: Path, tenant: str) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sac.settings.test")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    errors = io.StringIO()
    with redirect_stderr(errors):
        call_command("import_threads", "--tenant", tenant, "--format", "twcs", str(path))
    out = io.StringIO()
    call_command("sla_report", "--tenant", tenant, "--json", stdout=out)
    skipped = [line for line in errors.getvalue().splitlines() if line.startswith("skipped")]
    print(f"import: {len(skipped)} record(s) skipped: {skipped[:3]}")
    return json.loads(out.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--tenant", default="twcs-replay")
    args = parser.parse_args()
    sac = sac_report(args.file, args.tenant)
    pd_ = pandas_report(args.file, args.tenant)
    print(f"{'figure':34} {'SAC (sla_report)':>20} {'pandas (CSV)':>20}")
    for key in KEYS:
        print(f"{'overall.' + key:34} {sac['overall'][key]!s:>20} {pd_['overall'][key]!s:>20}")
    channels = sorted(set(sac["by_channel"]) | set(pd_["by_channel"]))
    differing = [c for c in channels if sac["by_channel"].get(c) != pd_["by_channel"].get(c)]
    print(f"channels: {len(channels)} (SAC {len(sac['by_channel'])}, pandas {len(pd_['by_channel'])}); "
          f"differing: {differing[:10] or 'none'}")
    for name in channels[:5]:
        print(f"  {name:30} SAC {sac['by_channel'].get(name)}\n  {'':30} pd  {pd_['by_channel'].get(name)}")
    agree = sac == pd_
    print(json.dumps({"agree": agree, "cases": sac["overall"]["cases"], "channels": len(channels)}))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
