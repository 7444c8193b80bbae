"""Parsers for customer-care history files, pure: a file in, threads out (no database).

twcs (Kaggle "Customer Support on Twitter" CSV): a case per thread root, i.e. an inbound tweet that answers
nobody. The thread is everything that replies to it, transitively. The brand is the author of the earliest
non-inbound tweet of the thread, else the first @handle of the root that is a brand known in the file (many
roots show the brand's handle replaced by a number). The root author's tweets in the thread are the case's
customer messages; the brand's tweets are our replies.

IBM dialog JSON (Twitter customer care dialogs): one case per dialog, `client`/`client1` turns are customer
messages, `agent` turns and the `agentURL` answer are replies; a tweet id carries its own timestamp (snowflake).
"""

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

TWCS_TIME = "%a %b %d %H:%M:%S %z %Y"
HANDLE = re.compile(r"@(\w+)")
TWITTER_EPOCH_MS = 1288834974657


class BadRecord(ValueError):
    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"record {number}: {reason}")
        self.number = number


@dataclass(frozen=True)
class Post:
    external_id: str
    author: str
    text: str
    at: datetime
    in_reply_to: str = ""


@dataclass
class Thread:
    brand: str
    customer: str
    root_id: str
    customer_posts: list[Post] = field(default_factory=list)
    brand_posts: list[Post] = field(default_factory=list)

    @property
    def first_message_at(self) -> datetime:
        return min(p.at for p in self.customer_posts)

    @property
    def first_response_at(self) -> datetime | None:
        return min((p.at for p in self.brand_posts), default=None)


@dataclass
class ParseResult:
    threads: list[Thread]
    errors: list[str]
    skipped: list[str]


def _twcs_rows(stream: TextIO, errors: list[str]) -> dict[str, tuple[Post, bool]]:
    posts: dict[str, tuple[Post, bool]] = {}
    reader = csv.DictReader(stream)
    for number, row in enumerate(reader, start=1):
        try:
            tweet_id = (row.get("tweet_id") or "").strip()
            author = (row.get("author_id") or "").strip()
            inbound = (row.get("inbound") or "").strip()
            if not tweet_id.isdigit() or not author or inbound not in ("True", "False"):
                raise BadRecord(number, "missing tweet_id, author_id or inbound")
            try:
                at = datetime.strptime((row.get("created_at") or "").strip(), TWCS_TIME).astimezone(UTC)
            except ValueError:
                raise BadRecord(number, f"bad created_at {row.get('created_at')!r}") from None
            parent = (row.get("in_response_to_tweet_id") or "").strip()
            if parent:
                try:
                    parent = str(int(float(parent)))
                except ValueError:
                    raise BadRecord(number, f"bad in_response_to_tweet_id {parent!r}") from None
            if tweet_id in posts:
                raise BadRecord(number, f"tweet {tweet_id} appears twice")
            posts[tweet_id] = (Post(tweet_id, author, row.get("text") or "", at, parent), inbound == "True")
        except BadRecord as exc:
            errors.append(str(exc))
    return posts


def parse_twcs(stream: TextIO) -> ParseResult:
    errors: list[str] = []
    posts = _twcs_rows(stream, errors)
    children: dict[str, list[str]] = {}
    for tweet_id, (post, _) in posts.items():
        if post.in_reply_to:
            children.setdefault(post.in_reply_to, []).append(tweet_id)
    brands = {post.author.lower(): post.author for post, inbound in posts.values() if not inbound}
    threads, skipped = [], []
    for tweet_id, (root, inbound) in posts.items():
        if not inbound or root.in_reply_to:
            continue
        members, queue, seen = [], [tweet_id], {tweet_id}
        while queue:
            current = queue.pop()
            members.append(posts[current][0])
            for child in children.get(current, ()):
                if child not in seen:
                    seen.add(child)
                    queue.append(child)
        ours = sorted((p for p in members if not posts[p.external_id][1]), key=lambda p: (p.at, p.external_id))
        brand = ours[0].author if ours else next(
            (brands[h.lower()] for h in HANDLE.findall(root.text) if h.lower() in brands), "")
        if not brand:
            skipped.append(f"thread {tweet_id}: no brand answered and no known brand is mentioned")
            continue
        threads.append(Thread(
            brand=brand, customer=root.author, root_id=tweet_id,
            customer_posts=sorted((p for p in members if p.author == root.author and posts[p.external_id][1]),
                                  key=lambda p: (p.at, p.external_id)),
            brand_posts=[p for p in ours if p.author == brand],
        ))
    return ParseResult(threads, errors, skipped)


def snowflake_time(tweet_id: str) -> datetime:
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, tz=UTC)


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def parse_ibm(stream: TextIO) -> ParseResult:
    errors: list[str] = []
    try:
        dialogs = json.load(stream)
    except json.JSONDecodeError as exc:
        return ParseResult([], [f"not JSON: {exc}"], [])
    if not isinstance(dialogs, list):
        return ParseResult([], ["expected a list of dialogs"], [])
    threads = []
    for number, dialog in enumerate(dialogs, start=1):
        try:
            threads.append(_ibm_dialog(dialog, number))
        except BadRecord as exc:
            errors.append(str(exc))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            errors.append(str(BadRecord(number, f"malformed dialog ({exc.__class__.__name__}: {exc})")))
    return ParseResult(threads, errors, [])


def _ibm_dialog(dialog: dict, number: int) -> Thread:
    company = dialog["dialogHeader"]["company"]
    if not company:
        raise BadRecord(number, "no company")
    customer_posts, brand_posts = [], []
    for turn in dialog["dialogContent"]:
        tweet_id = str(turn["tweet_ID"])
        if not tweet_id.isdigit():
            raise BadRecord(number, f"bad tweet_ID {tweet_id!r}")
        at = _iso(turn["datetime"])
        if "agent" in turn:
            brand_posts.append(Post(tweet_id, company, turn["message"], at))
        else:
            author = turn.get("client") or turn.get("client1")
            if not author:
                raise BadRecord(number, "a turn with neither client nor agent")
            customer_posts.append(Post(tweet_id, author, turn["message"], at))
    answer = dialog.get("agentURL") or {}
    if answer.get("tweet_ID"):
        brand_posts.append(Post(str(answer["tweet_ID"]), company, answer.get("url_utterance", ""),
                                snowflake_time(str(answer["tweet_ID"]))))
    if not customer_posts:
        raise BadRecord(number, "no client turn")
    customer = next(p.author for p in customer_posts)
    return Thread(brand=company, customer=customer, root_id=customer_posts[0].external_id,
                  customer_posts=sorted(customer_posts, key=lambda p: (p.at, p.external_id)),
                  brand_posts=sorted(brand_posts, key=lambda p: (p.at, p.external_id)))


def iter_format(fmt: str, stream: TextIO) -> ParseResult:
    if fmt == "twcs":
        return parse_twcs(stream)
    if fmt == "ibm":
        return parse_ibm(stream)
    raise ValueError(f"unknown format {fmt!r}")


def records(result: ParseResult) -> Iterator[Thread]:
    yield from result.threads
