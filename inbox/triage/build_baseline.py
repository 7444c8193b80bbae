"""Build the baseline linear model (inbox/triage/data/baseline_model.json) from data the project writes.

    .venv/bin/python -m inbox.triage.build_baseline

Training data: inbox/triage/data/corpus.tsv (written for SAC) and the simulator's labelled post templates
(channels_ingest/simulator, also written for SAC). No external data set is used.
"""

import json
from pathlib import Path

from .train import Example, fit

DATA = Path(__file__).resolve().parent / "data"


def corpus() -> list[Example]:
    examples = []
    for line in (DATA / "corpus.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        category, answer, text = line.split("\t", 2)
        examples.append(Example(text, category, answer == "1"))
    from channels_ingest.simulator.corpus import PostFactory

    for post in PostFactory(seed=11).posts(1500):
        category = "request" if post.kind == "personal_data" else post.kind
        examples.append(Example(post.text, category, post.kind not in ("praise", "noise")))
    return examples


def main() -> None:
    model = fit(corpus(), version="baseline")
    (DATA / "baseline_model.json").write_text(json.dumps(model.to_json(), separators=(",", ":"), sort_keys=True))
    print(f"baseline model: {len(model.weights)} category weights, {len(model.rr_weights)} requires_response weights")


if __name__ == "__main__":
    main()
