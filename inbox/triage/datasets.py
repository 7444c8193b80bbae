"""The labelled real posts of ../shared/datasets, read in place (nothing is copied into the project).

Used by `bench/triage_eval.py` (quality figures) and `python -m inbox.triage.build_baseline` (the English
requires_response head is trained on the `dev` half only). One module, so the evaluation and the training
can never disagree about which post is held out:

- en, requires_response: Customer Support on Twitter (twcs head, the official sample, @SpotifyCares) and the
  IBM customer-care threads. A customer post that opened a thread and got a brand answer = needs an answer;
  a customer reply in a thread that nobody answered (the closer: "thanks", "ok will do") = does not.
- pt, requires_response: Reclame Aqui complaints (every one needs an answer) and Olist reviews with a
  comment (1–2 stars and the "Negativo" hand labels need one; 4–5 stars and "Positivo" do not).
- sentiment: Olist stars (1–2 negative, 3 neutral, 4–5 positive) and hand labels, Reclame Aqui as negative.

Every post is assigned to `dev` or `test` by a hash of its text (`split_of`); `test` is never trained or
tuned on.
"""

import csv
import json
import random
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
csv.field_size_limit(10**8)


@dataclass
class Post:
    text: str
    lang: str  # the language we know it is in
    source: str
    needs_answer: bool | None = None
    sentiment: str | None = None
    category: str | None = None


def split_of(text: str) -> str:
    return "dev" if zlib.crc32(text.encode()) % 2 == 0 else "test"


def _twcs_rows(path: Path, skipped: Counter) -> list[dict]:
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not row.get("tweet_id") or row.get("inbound") not in ("True", "False") or not row.get("text"):
                skipped[path.name] += 1
                continue
            rows.append(row)
    return rows


def twcs_posts(path: Path, skipped: Counter, brand_ids_known: bool = True) -> list[Post]:
    rows = _twcs_rows(path, skipped)
    by_id = {r["tweet_id"]: r for r in rows}
    posts = []
    for r in rows:
        if r["inbound"] != "True":
            continue
        responses = [x for x in (r.get("response_tweet_id") or "").split(",") if x]
        parent = (r.get("in_response_to_tweet_id") or "").split(".")[0]
        if brand_ids_known:
            answered = any(by_id.get(x, {}).get("inbound") == "False" for x in responses)
            parent_is_brand = by_id.get(parent, {}).get("inbound") == "False"
        else:  # @SpotifyCares file: only the customers' tweets are there
            answered, parent_is_brand = bool(responses), bool(parent)
        if not parent and answered:
            posts.append(Post(r["text"], "en", path.name, needs_answer=True))
        elif parent_is_brand and not responses:
            posts.append(Post(r["text"], "en", path.name, needs_answer=False))
    return posts


def ibm_posts(path: Path) -> list[Post]:
    """Every IBM thread ends with the brand's answer (`agentURL`): its opening post needed one."""
    posts = []
    for dialog in json.loads(path.read_text(encoding="utf-8")):
        turns = dialog.get("dialogContent", [])
        if turns and "client" in turns[0] and turns[0].get("message"):
            posts.append(Post(turns[0]["message"], "en", "ibm", needs_answer=True))
    return posts


def reclame_aqui_posts(path: Path, limit: int) -> list[Post]:
    posts = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text = f"{row.get('title', '')}. {row.get('text', '')}".strip()
            if len(text) > 20:
                posts.append(Post(text, "pt", "reclame_aqui", needs_answer=True, sentiment="negative",
                                  category="complaint"))
    random.Random(4).shuffle(posts)
    return posts[:limit]


def olist_posts(folder: Path) -> list[Post]:
    posts = []
    with (folder / "olist_order_reviews_head69.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text = " ".join(x for x in (row.get("review_comment_title"), row.get("review_comment_message")) if x)
            score = int(row["review_score"]) if row.get("review_score", "").isdigit() else None
            if not text.strip() or score is None:
                continue
            sentiment = "negative" if score <= 2 else ("neutral" if score == 3 else "positive")
            posts.append(Post(text, "pt", "olist", needs_answer=None if score == 3 else score <= 2,
                              sentiment=sentiment, category="praise" if score >= 4 else None))
    with (folder / "labeled_comments_20.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            label = row.get("Classificação", "")
            if label in ("Positivo", "Negativo") and row.get("Comentário"):
                posts.append(Post(row["Comentário"], "pt", "olist_labels", needs_answer=label == "Negativo",
                                  sentiment="positive" if label == "Positivo" else "negative"))
    return posts


# The @SpotifyCares file holds only customers' replies; the evaluation takes the first 1,200 unanswered ones.
SPOTIFY_EVAL_LIMIT = 1200


def eval_posts(shared: Path = SHARED, skipped: Counter | None = None) -> list[Post]:
    """The evaluation set of bench/triage_eval.py, deduplicated by text (dev and test together)."""
    skipped = Counter() if skipped is None else skipped
    spotify = twcs_posts(shared / "twcs/spotifycares_support_requests.csv", skipped, brand_ids_known=False)
    posts = (twcs_posts(shared / "twcs/twcs_head_5000.csv", skipped)
             + twcs_posts(shared / "twcs/kaggle_sample.csv", skipped)
             + spotify[:SPOTIFY_EVAL_LIMIT]
             + ibm_posts(shared / "twcs/ibm_twitter_customer_care/dev.json")
             + reclame_aqui_posts(shared / "pt/reclame_aqui_complaints_dev.csv", limit=1500)
             + olist_posts(shared / "pt/olist"))
    seen: set[str] = set()
    return [p for p in posts if not (p.text in seen or seen.add(p.text))]  # type: ignore[func-returns-value]


def answered_followups(shared: Path = SHARED, skipped: Counter | None = None) -> list[Post]:
    """Customer replies in a brand's thread that the brand answered (twcs head and official sample), minus any text
    of the evaluation set. Not part of the split: every reply in it is a closer, so a head can score there by
    telling openers from replies. The benchmark prints how many of these the triage still flags, to show what that
    costs on the follow-ups that did need an answer. Nothing trains on them."""
    skipped = Counter() if skipped is None else skipped
    known = {p.text for p in eval_posts(shared, Counter())}
    posts = []
    for name in ("twcs_head_5000.csv", "kaggle_sample.csv"):
        rows = _twcs_rows(shared / "twcs" / name, skipped)
        by_id = {r["tweet_id"]: r for r in rows}
        for r in rows:
            parent = (r.get("in_response_to_tweet_id") or "").split(".")[0]
            responses = [x for x in (r.get("response_tweet_id") or "").split(",") if x]
            if (r["inbound"] == "True" and by_id.get(parent, {}).get("inbound") == "False"
                    and any(by_id.get(x, {}).get("inbound") == "False" for x in responses)
                    and r["text"] not in known):
                known.add(r["text"])
                posts.append(Post(r["text"], "en", name, needs_answer=True))
    return posts


def en_training_posts(shared: Path = SHARED) -> tuple[list[Post], list[Post]]:
    """What the English requires_response head learns from: the `dev` half of the evaluation's en posts, and,
    as extra closers, the @SpotifyCares replies nobody answered that the evaluation does not use (also
    `dev`-hashed only, so a text that is in `test` is never trained on, even as a duplicate)."""
    posts = [p for p in eval_posts(shared) if p.lang == "en" and p.needs_answer is not None
             and split_of(p.text) == "dev"]
    seen = {p.text for p in posts}
    extra = []
    spotify = twcs_posts(shared / "twcs/spotifycares_support_requests.csv", Counter(), brand_ids_known=False)
    for p in spotify[SPOTIFY_EVAL_LIMIT:]:
        if split_of(p.text) == "dev" and p.text not in seen:
            seen.add(p.text)
            extra.append(p)
    return posts, extra
