"""Build the baseline models in inbox/triage/data/.

    .venv/bin/python -m inbox.triage.build_baseline            # baseline_model.json (+ rr_en.json if the data is there)
    .venv/bin/python -m inbox.triage.build_baseline --shared ../shared/datasets

baseline_model.json (category fallback): trained on inbox/triage/data/corpus.tsv (written for SAC) and the
simulator's labelled post templates (channels_ingest/simulator, also written for SAC).

rr_en.json (the English requires_response head): trained on the real customer threads of ../shared/datasets,
read in place and never copied: only the `dev` half of the evaluation split (inbox/triage/datasets.py
`split_of`) and @SpotifyCares replies the evaluation does not use, so bench/triage_eval.py's `test` figures stay
held out. What ships is derived weights only, no text: words (and first words after the leading @handles) that
pass `train._vocabulary` (three or more posts, not a handle, used about as often by every data set), the
lexicon signals and the post's shape. Without the shared data the committed rr_en.json is left as it is.
"""

import argparse
import json
from pathlib import Path

from .train import Example, LabelledPost, fit, fit_response_head

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


def en_response_posts(shared: Path) -> list[LabelledPost]:
    from .datasets import en_training_posts

    # The official sample is a slice of the same Customer Support on Twitter data as the head file.
    group = {"kaggle_sample.csv": "twcs_head_5000.csv"}
    posts, extra = en_training_posts(shared)
    return ([LabelledPost(p.text, bool(p.needs_answer), group.get(p.source, p.source)) for p in posts]
            + [LabelledPost(p.text, bool(p.needs_answer), p.source, scored=False) for p in extra])


def main(argv: list[str] | None = None) -> None:
    from .datasets import SHARED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared datasets folder")
    args = parser.parse_args(argv)
    model = fit(corpus(), version="baseline")
    (DATA / "baseline_model.json").write_text(json.dumps(model.to_json(), separators=(",", ":"), sort_keys=True))
    print(f"baseline model: {len(model.weights)} category weights, {len(model.rr_weights)} requires_response weights")
    if not (args.shared / "twcs").is_dir():
        print(f"{args.shared}/twcs is missing: rr_en.json left as it is")
        return
    head, figures = fit_response_head(en_response_posts(args.shared), version="rr-en-1")
    (DATA / "rr_en.json").write_text(json.dumps(head.to_json(), separators=(",", ":"), sort_keys=True))
    print(f"English requires_response head: {len(head.words)} word weights, trained on {figures['n']} posts "
          f"({figures['positives']} need an answer); 5-fold cross-validated F1 on the {figures['scored']} from the "
          f"evaluation's dev half: {figures['cv_f1']:.3f} at "
          f"threshold {figures['threshold']:.2f} ({figures['cv_f1_at_0.5']:.3f} at 0.50)")


if __name__ == "__main__":
    main()
