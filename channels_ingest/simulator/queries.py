"""Read endpoints of the simulated X API v2, answered from a ``SimStore``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from .corpus import TWITTER_EPOCH_MS, SimUser, snowflake
from .store import (
    SimStore,
    csv_param,
    decode_token,
    encode_token,
    id_param,
    int_param,
    invalid_request,
    not_found,
    time_param,
)


def _check_user_id(store: SimStore, user_id: str) -> SimUser:
    if not user_id.isdigit():
        raise invalid_request("id", user_id, f"The `id` query parameter value [{user_id}] is not valid")
    user = store.users.get(user_id)
    if user is None:
        raise not_found("user", "id", user_id)
    return user


# X adds the field an expansion hangs off to the tweet even when tweet.fields does not name it.
_EXPANSION_FIELDS = {"author_id": "author_id", "referenced_tweets.id": "referenced_tweets",
                     "in_reply_to_user_id": "in_reply_to_user_id", "entities.mentions.username": "entities"}


def _tweet_fields(params: dict[str, str]) -> set[str]:
    expansions = csv_param(params, "expansions")
    return csv_param(params, "tweet.fields") | {f for e, f in _EXPANSION_FIELDS.items() if e in expansions}


def _includes(store: SimStore, records: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    expansions = csv_param(params, "expansions")
    user_fields = csv_param(params, "user.fields")
    tweet_fields = _tweet_fields(params)
    user_ids: dict[str, None] = {}
    tweets: dict[str, dict[str, Any]] = {}
    for rec in records:
        if "author_id" in expansions:
            user_ids[rec["author_id"]] = None
        if "in_reply_to_user_id" in expansions and rec.get("in_reply_to_user_id"):
            user_ids[rec["in_reply_to_user_id"]] = None
        if "entities.mentions.username" in expansions:
            for mention in rec["entities"].get("mentions", []):
                if "id" in mention:
                    user_ids[mention["id"]] = None
        if "referenced_tweets.id" in expansions or "referenced_tweets.id.author_id" in expansions:
            for ref in rec.get("referenced_tweets", []):
                ref_rec = store.tweets.get(ref["id"])
                if ref_rec is None:
                    continue
                tweets[ref_rec["id"]] = store.render_tweet(ref_rec, tweet_fields)
                if "referenced_tweets.id.author_id" in expansions:
                    user_ids[ref_rec["author_id"]] = None
    includes: dict[str, Any] = {}
    if user_ids:
        includes["users"] = [store.render_user(store.users[uid], user_fields) for uid in user_ids]
    if tweets:
        includes["tweets"] = list(tweets.values())
    return includes


def mentions(store: SimStore, user_id: str, params: dict[str, str]) -> dict[str, Any]:
    """GET /2/users/:id/mentions — newest first, ``next_token`` pages towards older tweets."""
    with store.lock:
        user = _check_user_id(store, user_id)
        max_results = int_param(params, "max_results", 5, 100, 10)
        since_id = id_param(params, "since_id")
        until_id = id_param(params, "until_id")
        start_time = time_param(params, "start_time")
        end_time = time_param(params, "end_time")
        token = params.get("pagination_token")
        below = decode_token(token) if token else None
        if user.id == store.brand.id:
            candidates = [store.tweets[tid] for tid in store.customer_ids]
        else:
            handle = f"@{user.username.lower()}"
            candidates = [t for t in store.tweets.values()
                          if t["author_id"] != user.id and handle in t["text"].lower()]
        matching = []
        for rec in reversed(candidates):
            tid = int(rec["id"])
            if (since_id is not None and tid <= since_id) or (until_id is not None and tid >= until_id):
                continue
            if below is not None and tid >= below:
                continue
            if start_time is not None and rec["ts"] < start_time:
                continue
            if end_time is not None and rec["ts"] > end_time:
                continue
            matching.append(rec)
        matching.sort(key=lambda r: int(r["id"]), reverse=True)
        page = matching[:max_results]
        if not page:
            return {"meta": {"result_count": 0}}
        tweet_fields = _tweet_fields(params)
        body: dict[str, Any] = {"data": [store.render_tweet(rec, tweet_fields) for rec in page]}
        includes = _includes(store, page, params)
        if includes:
            body["includes"] = includes
        meta: dict[str, Any] = {
            "result_count": len(page), "newest_id": page[0]["id"], "oldest_id": page[-1]["id"],
        }
        if len(matching) > max_results:
            meta["next_token"] = encode_token(page[-1]["id"])
        body["meta"] = meta
        return body


def user_tweets(store: SimStore, user_id: str, params: dict[str, str]) -> dict[str, Any]:
    """GET /2/users/:id/tweets — the user's own tweets, newest first (since_id, start_time, max_results)."""
    with store.lock:
        user = _check_user_id(store, user_id)
        max_results = int_param(params, "max_results", 5, 100, 10)
        since_id = id_param(params, "since_id")
        start_time = time_param(params, "start_time")
        matching = [rec for rec in store.tweets.values() if rec["author_id"] == user.id
                    and (since_id is None or int(rec["id"]) > since_id)
                    and (start_time is None or rec["ts"] >= start_time)]
        matching.sort(key=lambda r: int(r["id"]), reverse=True)
        page = matching[:max_results]
        if not page:
            return {"meta": {"result_count": 0}}
        return {"data": [store.render_tweet(rec, _tweet_fields(params)) for rec in page],
                "meta": {"result_count": len(page), "newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}}


def get_user(store: SimStore, params: dict[str, str], *, user_id: str | None = None,
             username: str | None = None) -> dict[str, Any]:
    """GET /2/users/me, /2/users/:id and /2/users/by/username/:username."""
    with store.lock:
        if username is not None:
            user = store.by_username.get(username.lower())
            if user is None:
                raise not_found("user", "username", username)
        else:
            user = _check_user_id(store, user_id or store.brand.id)
        return {"data": store.render_user(user, csv_param(params, "user.fields"))}


def get_tweet(store: SimStore, tweet_id: str, params: dict[str, str]) -> dict[str, Any]:
    """GET /2/tweets/:id"""
    with store.lock:
        if not tweet_id.isdigit():
            raise invalid_request("id", tweet_id, f"The `id` query parameter value [{tweet_id}] is not valid")
        rec = store.tweets.get(tweet_id)
        if rec is None:
            raise not_found("tweet", "id", tweet_id)
        body: dict[str, Any] = {"data": store.render_tweet(rec, _tweet_fields(params))}
        includes = _includes(store, [rec], params)
        if includes:
            body["includes"] = includes
        return body


def dm_events(store: SimStore, params: dict[str, str], *, participant_id: str | None = None,
              conversation_id: str | None = None) -> dict[str, Any]:
    """GET /2/dm_events (and the per-conversation variants), newest first."""
    with store.lock:
        max_results = int_param(params, "max_results", 1, 100, 100)
        token = params.get("pagination_token")
        below = decode_token(token) if token else None
        event_types = csv_param(params, "event_types") or {"MessageCreate"}
        fields = csv_param(params, "dm_event.fields")
        events = [e for e in reversed(store.dm_events) if e["event_type"] in event_types]
        if participant_id is not None:
            events = [e for e in events if e["participant_id"] == participant_id]
        if conversation_id is not None:
            events = [e for e in events if e["dm_conversation_id"] == conversation_id]
        if below is not None:
            events = [e for e in events if int(e["id"]) < below]
        page = events[:max_results]
        if not page:
            return {"meta": {"result_count": 0}}
        data = []
        for event in page:
            item = {"event_type": event["event_type"], "id": event["id"], "text": event["text"]}
            for name in ("created_at", "dm_conversation_id", "sender_id"):
                if name in fields:
                    item[name] = event[name]
            data.append(item)
        body: dict[str, Any] = {"data": data}
        if "sender_id" in csv_param(params, "expansions"):
            senders = dict.fromkeys(e["sender_id"] for e in page)
            body["includes"] = {"users": [store.render_user(store.users[s], csv_param(params, "user.fields"))
                                          for s in senders if s in store.users]}
        meta: dict[str, Any] = {"result_count": len(page)}
        if len(events) > max_results:
            meta["next_token"] = encode_token(page[-1]["id"])
        body["meta"] = meta
        return body


SEARCH_QUERY_MAX = 512
SEARCH_WINDOW_SECONDS = 7 * 86_400  # recent search: the last seven days


def _clock() -> float:
    return time.time()  # a test moves it on to see X's window move


def _check_since_id_in_window(since_id: int) -> None:
    """X refuses a since_id older than the recent search's seven days, with these words."""
    start = int(_clock() - SEARCH_WINDOW_SECONDS) // 60 * 60 + 60  # to the minute, as X says it
    if (since_id >> 22) + TWITTER_EPOCH_MS < start * 1000:
        raise invalid_request("since_id", str(since_id),
                              f"'since_id' must be a tweet id created after "
                              f"{datetime.fromtimestamp(start, UTC):%Y-%m-%dT%H:%MZ}. Please use a 'since_id' that is "
                              f"larger than {snowflake(start)}")


def _search_terms(query: str) -> list[str]:
    """The plain words of a search query: operators (-from:, -is:, lang:), OR and parentheses are left out."""
    words = query.replace("(", " ").replace(")", " ").replace('"', " ").split()
    return [w.lower() for w in words if w != "OR" and not w.startswith("-") and ":" not in w]


def search_recent(store: SimStore, params: dict[str, str]) -> dict[str, Any]:
    """GET /2/tweets/search/recent — posts holding any plain term of ``query``, newest first (``next_token``)."""
    with store.lock:
        query = params.get("query") or ""
        if not query.strip():
            raise invalid_request("query", query, "The `query` query parameter can not be empty")
        # What X refuses of a query (docs.x.com "Build a query": 512 characters on pay-per-use access; its query
        # parser wants balanced parentheses and quotes), with X's invalid-request shape.
        if len(query) > SEARCH_QUERY_MAX:
            raise invalid_request("query", query, f"Query length must be less than or equal to {SEARCH_QUERY_MAX} "
                                                  f"characters (was {len(query)})")
        if query.count('"') % 2 or query.count("(") != query.count(")"):
            raise invalid_request("query", query, "There were errors processing your request: Unbalanced quotes "
                                                  "or parentheses in the query")
        terms = _search_terms(query)
        excluded = {w.split(":", 1)[1].lower() for w in query.split() if w.startswith("-from:")}
        max_results = int_param(params, "max_results", 10, 100, 10)
        since_id = id_param(params, "since_id")
        if since_id is not None:
            _check_since_id_in_window(since_id)
        token = params.get("next_token")
        below = decode_token(token) if token else None
        matching = []
        for rec in store.tweets.values():
            tid = int(rec["id"])
            author = store.users.get(rec["author_id"])
            if author is not None and author.username.lower() in excluded:
                continue
            if (since_id is not None and tid <= since_id) or (below is not None and tid >= below):
                continue
            if any(term in rec["text"].lower() for term in terms):
                matching.append(rec)
        matching.sort(key=lambda r: int(r["id"]), reverse=True)
        page = matching[:max_results]
        if not page:
            return {"meta": {"result_count": 0}}
        body: dict[str, Any] = {"data": [store.render_tweet(rec, _tweet_fields(params)) for rec in page]}
        includes = _includes(store, page, params)
        if includes:
            body["includes"] = includes
        meta: dict[str, Any] = {"result_count": len(page), "newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        if len(matching) > max_results:
            meta["next_token"] = encode_token(page[-1]["id"])
        body["meta"] = meta
        return body
