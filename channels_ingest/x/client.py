"""The X connector: tweepy.Client speaking API v2, against api.twitter.com or any base URL (the simulator)."""

import hashlib
import html
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy
from django.conf import settings

from channels_ingest.errors import (
    QUOTA_CAP,
    QUOTA_CREDITS,
    AuthError,
    ConnectorError,
    DeliveryUnknown,
    MalformedPayload,
    PermanentError,
    QuotaExhausted,
    RecipientUnreachable,
    TransientError,
    may_have_arrived,
)
from channels_ingest.types import BadItem, OutboundMedia, OutboundMessage, Page

from . import parse
from .query import search_query

log = logging.getLogger(__name__)

X_API_HOST = "https://api.twitter.com"
# Posting (replies, DMs) needs OAuth 1.0a user context; reading mentions needs the app's bearer token.
USER_AUTH_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
# GET /2/dm_events has no since_id and X bills every DM event it returns ($0.010 each, "charged per resource
# returned in the response": docs.x.com/x-api/getting-started/pricing), old or new. So an incremental poll asks
# for DM_PROBE event first and doubles the page only while everything returned is new; the first poll of a
# channel takes the newest DM_BACKFILL events once (max_results is 1..100, newest first: docs.x.com
# direct-messages lookup). A burst larger than MAX_DM_PAGES pages is finished on the next fetch (dm_next_token).
DM_PROBE = 1
DM_BACKFILL = 100
DM_PAGE_MAX = 100
MAX_DM_PAGES = 8
# find_sent reads the conversation in pages this size until it is past the moment of the send.
FIND_DM_PAGE = 10
FIND_DM_PAGES = 5
# "Most limits reset every 15 minutes" (docs.x.com/fundamentals/rate-limits): a 429 or a spent window without a
# usable x-rate-limit-reset waits a whole window rather than retrying at once.
X_RATE_WINDOW_SECONDS = 15 * 60
# A reset already past (our clock ahead of X's) would otherwise mean a retry every second.
RATE_LIMIT_MIN_WAIT_SECONDS = 15


# X refusing because the app's own allowance is spent: its pay-per-use credits ("credits-depleted", seen with 402),
# or a usage cap (the UsageCapExceededProblem of X's API v2 OpenAPI spec: 429, type "usage-capped", title
# "UsageCapExceeded", period Daily or Monthly). Nothing changes until credits are added or the cap resets (X does
# not say when; the monthly Post cap resets on the project's billing day), so the rate headers mean nothing here:
# asked again once an hour, a failed request that returns nothing and is not billed, instead of every 15 minutes.
QUOTA_RETRY_SECONDS = 3600


def _problems(response: requests.Response) -> list[dict[str, Any]]:
    """The problem objects of an X error body: the body itself and its `errors` entries."""
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    errors = body.get("errors")
    return [body, *(e for e in (errors if isinstance(errors, list) else []) if isinstance(e, dict))]


def _quota_refusal(response: requests.Response) -> QuotaExhausted | None:
    if response.status_code not in (402, 403, 429):
        return None
    for problem in _problems(response):
        kind = str(problem.get("type", "")).rstrip("/")
        if kind.endswith("/credits-depleted"):
            return QuotaExhausted(QUOTA_CREDITS, retry_after_seconds=QUOTA_RETRY_SECONDS)
        if kind.endswith("/usage-capped") or problem.get("title") == "UsageCapExceeded":
            period = problem.get("period") if problem.get("period") in QUOTA_CAP else ""
            return QuotaExhausted(QUOTA_CAP[period], retry_after_seconds=QUOTA_RETRY_SECONDS)
    return None


class StaleSinceId(PermanentError):
    """X's recent search reaches back 7 days (docs.x.com, "Search Posts": the last seven days) and refuses (400) a
    since_id older than that: the channel's search was last read before then (its polling paused for the X budget
    until the month turned, say)."""


# X's words for it: "'since_id' must be a tweet id created after 2026-06-22T16:35Z. Please use a 'since_id' that is
# larger than 2069097036665323520".
_STALE_SINCE_ID = "'since_id' must be a tweet id created after"


def _stale_since_id(response: requests.Response) -> StaleSinceId | None:
    if response.status_code != 400:
        return None
    for problem in _problems(response):
        message = str(problem.get("message") or "")
        if _STALE_SINCE_ID in message:
            return StaleSinceId(f"X's search reaches back 7 days only ({message})")
    return None


# 403 problem types that mean our app or token may not use the endpoint, not that the person refuses us.
_APP_PROBLEMS = ("client-forbidden", "unsupported-authentication", "oauth1-permissions", "not-authorized-for-resource")


def _app_forbidden(exc: tweepy.Forbidden) -> bool:
    kinds = [str(problem.get("type", "")) for problem in _problems(exc.response)]
    return any(kind.rstrip("/").endswith(name) for kind in kinds for name in _APP_PROBLEMS)


class _RebasedSession(requests.Session):
    """tweepy hard-codes its host; this session sends its requests to `base_url` instead, with a timeout
    (tweepy sets none, and a hung socket would hold a worker forever)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.last_headers: Any = {}
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if url.startswith(X_API_HOST):
            url = self.base_url + url[len(X_API_HOST):]
        kwargs.setdefault("timeout", self.timeout)
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = response.headers
        return response


class XClient:
    def __init__(self, *, credentials: dict[str, str], base_url: str = "", timeout: float | None = None) -> None:
        self.credentials = credentials
        # Connected with "Connect with X" (OAuth 2.0 user context): one bearer token reads and writes, and
        # tweepy sends it when a call says user_auth=False.
        self.oauth2 = credentials.get("auth") == "oauth2"
        self.api = tweepy.Client(
            bearer_token=credentials.get("access_token" if self.oauth2 else "bearer_token"),
            consumer_key=None if self.oauth2 else credentials.get("consumer_key"),
            consumer_secret=None if self.oauth2 else credentials.get("consumer_secret"),
            access_token=None if self.oauth2 else credentials.get("access_token"),
            access_token_secret=None if self.oauth2 else credentials.get("access_token_secret"),
            return_type=dict,
        )
        self.api.session = _RebasedSession(
            base_url or settings.SAC_X_API_URL, timeout or settings.SAC_HTTP_TIMEOUT_SECONDS
        )

    def _call(self, method: Any, *args: Any, safe_to_repeat: bool = True, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except tweepy.HTTPException as exc:
            quota = _quota_refusal(exc.response)  # a 402, 403 or 429 of its own kind: see QUOTA_RETRY_SECONDS
            if quota is not None:
                raise quota from exc
            raise self._http_error(exc, safe_to_repeat=safe_to_repeat) from exc
        except requests.exceptions.JSONDecodeError as exc:
            raise MalformedPayload(f"X answered with invalid JSON: {exc.msg}", exc.doc[:100_000]) from exc
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            if not safe_to_repeat and may_have_arrived(exc):
                # The request reached X and we do not know if it was posted: a retry could post twice.
                what = "did not answer in time" if isinstance(exc, requests.ReadTimeout) else "dropped the connection"
                raise DeliveryUnknown(f"X {what} after receiving the message; it may have been posted") from exc
            if isinstance(exc, requests.ReadTimeout):
                raise TransientError("X did not answer in time") from exc
            raise TransientError(f"X unreachable: {exc.__class__.__name__}") from exc

    @staticmethod
    def _http_error(exc: tweepy.HTTPException, *, safe_to_repeat: bool) -> ConnectorError:
        status = exc.response.status_code
        if isinstance(exc, tweepy.TooManyRequests):
            reset = exc.response.headers.get("x-rate-limit-reset")
            return TransientError("X rate limit reached", retry_after_seconds=_seconds_until(reset))
        if isinstance(exc, tweepy.TwitterServerError):
            if not safe_to_repeat:
                # A 5xx can come after X stored the post (a timeout behind its front end): posting again
                # could answer the customer twice, so the outcome is unknown until someone looks.
                return DeliveryUnknown(f"X answered {status} after receiving the message; it may have been posted")
            return TransientError(f"X server error {status}")
        if isinstance(exc, tweepy.Unauthorized):
            return AuthError("X refused the channel's credentials (401)")
        stale = _stale_since_id(exc.response)
        if stale is not None:
            return stale
        return PermanentError(f"X answered {status}: {'; '.join(exc.api_messages)}")

    def has_user_context(self) -> bool:
        """Can post and read DMs: an OAuth 2.0 user token, or the four OAuth 1.0a keys."""
        return all(self.credentials.get(k) for k in (("access_token",) if self.oauth2 else USER_AUTH_KEYS))

    def _require(self, *keys: str) -> None:
        # tweepy would send "Bearer None" and let X refuse it; say plainly what is missing instead.
        if self.oauth2:
            keys = ("access_token",)  # the one token stands for the bearer token and the user keys
        missing = [k for k in keys if not self.credentials.get(k)]
        if missing:
            raise AuthError(f"The channel has no {', '.join(missing)}: connect the X account again.")

    @staticmethod
    def _tweet_page_params(since_id: str | None, **page: str | None) -> dict[str, Any]:
        """The fields every tweet page asks for; `page` is the endpoint's own paging token
        (mentions call it pagination_token, search next_token)."""
        params: dict[str, Any] = {
            "max_results": 100,
            "expansions": parse.EXPANSIONS,
            "tweet_fields": parse.TWEET_FIELDS,
            "user_fields": parse.USER_FIELDS,
            "media_fields": parse.MEDIA_FIELDS,
        }
        if since_id:
            params["since_id"] = since_id
        params.update({name: token for name, token in page.items() if token})
        return params

    def mentions(self, *, user_id: str, since_id: str | None, pagination_token: str | None) -> Any:
        self._require("bearer_token")
        params = self._tweet_page_params(since_id, pagination_token=pagination_token)
        return self._call(self.api.get_users_mentions, user_id, **params)

    def search_recent(self, *, query: str, since_id: str | None, next_token: str | None) -> Any:
        self._require("bearer_token")
        params = self._tweet_page_params(since_id, next_token=next_token)
        return self._call(self.api.search_recent_tweets, query, **params)

    def dm_events(self, *, pagination_token: str | None, max_results: int = DM_PAGE_MAX) -> Any:
        self._require(*USER_AUTH_KEYS)
        params: dict[str, Any] = {
            "max_results": max(1, min(max_results, DM_PAGE_MAX)),
            "event_types": "MessageCreate",
            "dm_event_fields": parse.DM_EVENT_FIELDS,
            "expansions": ["sender_id"],
            "user_fields": parse.USER_FIELDS,
        }
        if pagination_token:
            params["pagination_token"] = pagination_token
        return self._call(self.api.get_direct_message_events, user_auth=not self.oauth2, **params)

    def rate_budget(self) -> str:
        """What X's last answer said is left of this endpoint's window (x-rate-limit-*), or "" without it."""
        headers = self.api.session.last_headers
        remaining, limit, reset = (str(headers.get(f"x-rate-limit-{k}", "")).strip()
                                   for k in ("remaining", "limit", "reset"))
        if not (remaining.isdigit() and limit.isdigit() and reset.isdigit()):
            return ""
        at = datetime.fromtimestamp(int(reset), tz=UTC)
        return f"X rate budget: {remaining} of {limit} calls left until {at:%H:%M} UTC"

    def budget_wait_seconds(self) -> int | None:
        """When X says this endpoint's window is spent (x-rate-limit-remaining 0), wait for its reset."""
        headers = self.api.session.last_headers
        if str(headers.get("x-rate-limit-remaining", "")) == "0":
            return _seconds_until(headers.get("x-rate-limit-reset"))
        return None

    def reply(self, *, in_reply_to_tweet_id: str, text: str, media_id: str = "") -> str:
        self._require(*USER_AUTH_KEYS)
        body = self._call(self.api.create_tweet, text=text, in_reply_to_tweet_id=in_reply_to_tweet_id,
                          media_ids=[media_id] if media_id else None,
                          user_auth=not self.oauth2, safe_to_repeat=False)
        return str(_data(body)["id"])

    def webhook_register(self, url: str) -> dict[str, Any]:
        """POST /2/webhooks {"url"} with the app's bearer token (X's createWebhooks): the installation's one webhook;
        X checks the URL with a CRC request before it answers. Returns X's webhook config (id, url, valid, …)."""
        response = self._call(self.api.request, "POST", "/2/webhooks", json={"url": url})
        return _data(self._call(response.json))

    def account_activity_subscribe(self, webhook_id: str) -> bool:
        """POST /2/account_activity/webhooks/:webhook_id/subscriptions/all with the account's own user token (X's
        createAccountActivitySubscription): its events go to the installation's webhook. Safe to repeat."""
        self._require(*USER_AUTH_KEYS)
        route = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all"
        response = self._call(self.api.request, "POST", route, json={}, user_auth=not self.oauth2)
        if response.status_code == 204:
            return True
        return _data(self._call(response.json)).get("subscribed") is True

    def direct_message(self, *, participant_id: str, text: str, media_id: str = "") -> str:
        self._require(*USER_AUTH_KEYS)
        try:
            body = self._call(self.api.create_direct_message, participant_id=participant_id, text=text,
                              media_id=media_id or None, user_auth=not self.oauth2, safe_to_repeat=False)
        except PermanentError as exc:
            if isinstance(exc.__cause__, tweepy.Forbidden) and not _app_forbidden(exc.__cause__):
                # X answers 403 when the person does not accept DMs from the brand (DMs closed, or open only
                # to accounts they follow). Our app being refused the endpoint is a different 403 (its problem
                # type says so) and stays a plain error.
                raise RecipientUnreachable(
                    f"X did not deliver the direct message: this customer does not accept DMs from the brand "
                    f"({exc}). Invite them publicly to send the brand a DM instead.") from exc
            raise
        return str(_data(body)["dm_event_id"])

    def upload_media(self, *, content: bytes, content_type: str, filename: str, category: str) -> str:
        """POST /2/media/upload (one request, multipart: media, media_category, media_type) → the media id.

        tweepy's Client has no v2 upload (and its v1.1 one cannot use an OAuth 2.0 token), so the request is
        made here on the same re-based session and credentials. An upload shows nothing to the customer:
        repeating one after a doubtful answer only leaves an unused image that X discards, hence every
        network failure is transient here, unlike a post."""
        self._require(*USER_AUTH_KEYS)
        auth, headers = None, {}
        if self.oauth2:
            headers["Authorization"] = f"Bearer {self.credentials['access_token']}"
        else:
            auth = tweepy.OAuth1UserHandler(
                self.credentials["consumer_key"], self.credentials["consumer_secret"],
                self.credentials["access_token"], self.credentials["access_token_secret"]).apply_auth()
        try:
            response = self.api.session.request(
                "POST", f"{X_API_HOST}/2/media/upload", auth=auth, headers=headers,
                data={"media_category": category, "media_type": content_type},
                files={"media": (filename or "image", content, content_type)})
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise TransientError(f"X media upload failed: {exc.__class__.__name__}") from exc
        quota = _quota_refusal(response)
        if quota is not None:
            raise quota
        if response.status_code == 429:
            raise TransientError("X rate limit reached",
                                 retry_after_seconds=_seconds_until(response.headers.get("x-rate-limit-reset")))
        if response.status_code == 401:
            raise AuthError("X refused the channel's credentials (401)")
        if response.status_code >= 500:
            raise TransientError(f"X server error {response.status_code} on media upload")
        try:
            body = response.json()
        except ValueError as exc:
            raise MalformedPayload("X answered a media upload with invalid JSON", response.text[:100_000]) from exc
        if response.status_code >= 400:
            errors = body.get("errors") if isinstance(body, dict) else None
            detail = "; ".join(str(e.get("message") or e.get("detail") or "")
                               for e in errors or [] if isinstance(e, dict))
            raise PermanentError(f"X refused the image ({response.status_code}): "
                                 f"{detail or (body.get('detail') if isinstance(body, dict) else '')}")
        media_id = _data(body).get("id")
        if not media_id:
            raise MalformedPayload("X answered a media upload without an id", json.dumps(body)[:100_000])
        return str(media_id)

    def own_tweets(self, *, user_id: str, start_time: datetime) -> Any:
        """The account's own latest tweets since `start_time` (GET /2/users/:id/tweets), to find a reply whose
        send ended in doubt."""
        self._require("bearer_token")
        return self._call(self.api.get_users_tweets, user_id, max_results=100, start_time=start_time,
                          tweet_fields=["created_at", "referenced_tweets"])

    def dm_events_with(self, *, participant_id: str, max_results: int = FIND_DM_PAGE,
                       pagination_token: str | None = None) -> Any:
        """The latest events of the one-to-one conversation with `participant_id`, newest first."""
        self._require(*USER_AUTH_KEYS)
        return self._call(self.api.get_direct_message_events, participant_id=participant_id,
                          max_results=max_results, pagination_token=pagination_token,
                          event_types="MessageCreate", dm_event_fields=["created_at", "sender_id"],
                          user_auth=not self.oauth2)


def same_text(ours: str, theirs: Any) -> bool:
    """X returns tweet text with &, < and > escaped, and may trim surrounding spaces."""
    return isinstance(theirs, str) and " ".join(html.unescape(theirs).split()) == " ".join(ours.split())


def _data(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise MalformedPayload("X answered without a data object", json.dumps(body, default=str)[:100_000])
    return body["data"]


def _x_time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _items(body: Any) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    return [item for item in data if isinstance(item, dict) and item.get("id")] if isinstance(data, list) else []


def _count(body: Any) -> int:
    data = body.get("data") if isinstance(body, dict) else None
    return len(data) if isinstance(data, list) else 0


def _seconds_until(reset_epoch: str | None) -> int:
    """Seconds to wait for X's rate window to reset: x-rate-limit-reset is epoch seconds; without it (or
    unreadable) the documented 15-minute window, never an immediate retry."""
    try:
        reset = int(str(reset_epoch).strip()) if reset_epoch else None
    except ValueError:
        reset = None
    if reset is None:
        return X_RATE_WINDOW_SECONDS
    wait = reset - int(time.time()) + 1
    # X's reset is the authority when it is ahead of us; one already past means our clock is ahead of X's.
    return wait if wait > 0 else RATE_LIMIT_MIN_WAIT_SECONDS


def _next_token(body: Any) -> str | None:
    meta = body.get("meta") if isinstance(body, dict) else None
    token = meta.get("next_token") if isinstance(meta, dict) else None
    return str(token) if token else None


def _event_id(event: Any) -> int | None:
    event_id = str(event.get("id", "")) if isinstance(event, dict) else ""
    return int(event_id) if event_id.isdigit() else None


class XConnector:
    """What channels_ingest and the inbox's outbound task call for an X (or simulator) channel."""

    def __init__(self, channel: Any) -> None:
        from channels_ingest.oauth.services import x_credentials_fresh

        self.channel = channel
        # An OAuth 2.0 access token lives 2 hours: renewed here, before any call, when it is about to expire.
        self.client = XClient(credentials=x_credentials_fresh(channel), base_url=channel.api_base_url)

    def fetch_page(self) -> Page:
        cursor = dict(self.channel.cursor or {})
        body = self.client.mentions(
            user_id=self.channel.external_account_id,
            since_id=cursor.get("since_id"),
            pagination_token=cursor.get("next_token"),
        )
        # On the very first poll there is no since_id: take the newest page only, not years of history.
        follow_pages = bool(cursor.get("since_id"))
        page = parse.parse_mentions_page(self.channel.platform, body, cursor=cursor, follow_pages=follow_pages)
        self._bill(posts_read=_count(body))
        page.next_poll_in_seconds = self.client.budget_wait_seconds()
        page.rate_budget = self.client.rate_budget()
        if page.next_poll_in_seconds:
            return page  # the window is spent: DMs and further pages wait for the reset
        if page.more:
            return page
        # The mentions just read are kept (and billed) whatever the search or the DM endpoint answer: one of them
        # failing must neither stop the channel nor have the mentions read (and billed) again at the next poll.
        if self.search_query():
            self._apart(page, "search for the channel's terms", lambda: self._search(page, cursor))
        if not page.more and self.client.has_user_context():
            if self._apart(page, "DMs", lambda: self._direct_messages(page, cursor)):
                # The DM endpoint has its own window (300 requests per 15 minutes per user); a 429 the search got
                # still counts (the longer wait wins).
                page.next_poll_in_seconds = max(filter(None, (page.next_poll_in_seconds,
                                                              self.client.budget_wait_seconds())), default=None)
        return page

    def _apart(self, page: Page, what: str, read: Callable[[], None]) -> bool:
        """Run one more read of the fetch (the search, the DMs); whether it went through. A refusal (X will not
        serve it: a query it rejects, DMs this app may not read), a failure (a 5xx, a timeout, this endpoint's
        429) and an unreadable answer (dead-lettered) leave it out of this fetch with a note for the poll run; a
        429 also puts the next poll off until its window resets. A refused token still stops the channel
        (AuthError: it needs re-authorisation)."""
        try:
            read()
        except AuthError:
            raise
        except TransientError as exc:
            log.warning("X did not serve the %s of channel %s this poll: %s", what, self.channel.pk, exc)
            if isinstance(exc, QuotaExhausted):
                page.quota_refusal = str(exc)
            page.notes.append(f"X did not serve the {what} this poll ({exc}); tried again at the next poll")
            if exc.retry_after_seconds:
                page.next_poll_in_seconds = max(page.next_poll_in_seconds or 0, exc.retry_after_seconds)
            return False
        except PermanentError as exc:
            log.warning("X refused the %s of channel %s: %s", what, self.channel.pk, exc)
            page.notes.append(f"X refused the {what} ({exc}); the rest of the channel was read")
            return False
        except MalformedPayload as exc:
            # Kept whole as a dead letter (as a poll whose only answer is unreadable is), with the reason.
            log.warning("X answered the %s of channel %s unreadably: %s", what, self.channel.pk, exc.reason)
            page.bad_items.append(BadItem(reason=exc.reason, payload=exc.payload))
            page.notes.append(f"X did not serve the {what} this poll ({exc.reason}); tried again at the next poll")
            return False
        return True

    def search_query(self) -> str:
        return search_query(self.channel.search_terms, self.channel.handle)

    def _search(self, page: Page, cursor: dict[str, Any]) -> None:
        """The brand's terms, with the same since_id / next_token protocol as mentions in its own sub-cursor. The
        sub-cursor names the query it belongs to (`q`, a digest): one saved by a poll that began before the terms
        changed is not used for the new query (its since_id would skip the new terms' recent posts, and X may refuse
        its next_token), which then starts from the newest posts."""
        query = self.search_query()
        digest = hashlib.sha256(query.encode()).hexdigest()[:16]
        sub = dict(cursor.get("search") or {})
        if sub.get("q", digest) != digest:  # a sub-cursor from before `q` was kept belongs to the current terms
            sub = {}
        try:
            body = self.client.search_recent(query=query, since_id=sub.get("since_id"),
                                             next_token=sub.get("next_token"))
        except StaleSinceId as exc:
            # Refused for good otherwise: every later poll would send the same since_id, and the brand's terms
            # would never be searched again. Afresh from the newest posts, as for new terms: a since_id at the
            # edge of X's window would fall out of it again by the next poll, and reading the whole week back
            # would be billed post by post; what was posted while the search was not read is not read.
            log.warning("X search of channel %s: %s; starting again from the newest posts", self.channel.pk, exc)
            page.notes.append("X's search reaches back 7 days only and the channel's terms were last searched before "
                              "then: the search starts again from the newest posts")
            sub = {}
            body = self.client.search_recent(query=query, since_id=None, next_token=None)
        self._bill(posts_read=_count(body))
        found = parse.parse_mentions_page(self.channel.platform, body, cursor=sub,
                                          follow_pages=bool(sub.get("since_id")))
        page.items += found.items
        page.bad_items += found.bad_items
        page.more = found.more
        page.cursor = {**(page.cursor or {}), "search": {**(found.cursor or {}), "q": digest}}

    def _direct_messages(self, page: Page, cursor: dict[str, Any]) -> None:
        """DM events have no since_id: read newest first until we reach one already seen, paying for little else.

        Cursor keys: dm_newest, the newest event id stored (everything newer than the previous dm_newest up to it
        is stored); while a burst is being read across fetches, dm_next_token, dm_pending_newest and
        dm_page_size say where to go on. The cursor is saved by ingest_batch in the same transaction as these
        rows, so a crash re-reads (and re-bills) at most one fetch and stores nothing twice.
        """
        seen = int(cursor.get("dm_newest") or 0)
        token = cursor.get("dm_next_token") or None
        newest = int(cursor.get("dm_pending_newest") or 0)
        if not seen and not token:
            size, pages = DM_BACKFILL, 1  # the channel's first DM read: the newest events only, not 30 days
        else:
            size, pages = int(cursor.get("dm_page_size") or DM_PROBE), MAX_DM_PAGES
        caught_up, read, failed = False, 0, None
        for _ in range(pages):
            try:
                body = self.client.dm_events(pagination_token=token, max_results=size)
            except AuthError:
                raise
            except (ConnectorError, MalformedPayload) as exc:
                if read:
                    failed = exc  # the pages read are kept: the next fetch goes on from the one that failed
                    break
                if token:
                    # The saved page token itself failed (X may refuse one that has expired): the next fetch starts
                    # again from the newest events, down to dm_newest; what lies between is read again, stored once.
                    page.cursor = {**(page.cursor or {}), "dm_next_token": None, "dm_page_size": None}
                raise
            read += 1
            self._bill(dm_events_read=_count(body))
            items, bad, token = parse.parse_dm_page(self.channel.platform, body,
                                                    brand_id=self.channel.external_account_id)
            ids = [i for i in (_event_id(e) for e in _items(body)) if i is not None]
            page.items += [i for i in items if int(i.external_id) > seen]
            # An unreadable event already dead-lettered by an earlier fetch is not dead-lettered again.
            page.bad_items += [b for b in bad if (_event_id(b.payload) or 0) > seen or not seen]
            newest = max([newest, *ids])
            if not seen or not token or (ids and min(ids) <= seen):
                caught_up = True  # the first read, the end of the list, or an event we already hold
                break
            size = min(size * 2, DM_PAGE_MAX)  # everything was new: more is likely
        state: dict[str, Any] = {"dm_next_token": None, "dm_pending_newest": None, "dm_page_size": None}
        if caught_up:
            newest = max(newest, seen)
            state["dm_newest"] = str(newest) if newest else None
        else:
            # Still above the last event we hold: the next fetch goes on from here; dm_newest moves only then,
            # so nothing between is skipped.
            state.update(dm_newest=str(seen), dm_next_token=token, dm_pending_newest=str(newest),
                         dm_page_size=size)
            page.more = failed is None  # after a failure, at the next poll (the caller notes it), not in this one
        page.cursor = {**(page.cursor or {}), **state}
        if failed is not None:
            raise failed

    def _bill(self, **counts: int) -> None:
        from channels_ingest.services import api_usage_add

        api_usage_add(channel=self.channel, **counts)

    def find_sent(self, message: OutboundMessage, *, since: datetime,
                  matches: Callable[[str], bool] | None = None) -> str | None:
        """After a send ended in doubt: the id of our post if X has it (then recorded as ours), else None.

        A public reply is looked for among the account's own tweets since `since` that reply to the same
        tweet with the same text; a DM among the conversation's latest events sent by the account.
        `matches` replaces the text comparison when each attempt words the message differently."""
        from channels_ingest.services import sent_message_record

        def ours(text: Any) -> bool:
            if matches is None:
                return same_text(message.text, text)
            return isinstance(text, str) and matches(html.unescape(text))

        brand_id = self.channel.external_account_id
        # A minute of slack for the two clocks; X refuses a start_time older than 7 days.
        since = max(since - timedelta(minutes=1), datetime.now(UTC) - timedelta(days=6, hours=23))
        found, kind = None, "public_reply"
        if message.visibility == "private":
            kind = "direct"
            # No start_time on this endpoint: small pages, newest first, until the events predate the send
            # (each event returned is billed as a DM event read, like the poll's).
            token: str | None = None
            for _ in range(FIND_DM_PAGES):
                body = self.client.dm_events_with(participant_id=message.recipient_external_id,
                                                  max_results=FIND_DM_PAGE, pagination_token=token)
                self._bill(dm_events_read=_count(body))
                events = _items(body)
                for event in events:
                    # The same canned text sent last month is not this message.
                    if str(event.get("sender_id")) == brand_id and ours(event.get("text")) \
                            and _x_time(event.get("created_at")) >= since:
                        found = str(event["id"])
                        break
                token = _next_token(body)
                if found or not token or any(_x_time(e.get("created_at")) < since for e in events):
                    break
        else:
            body = self.client.own_tweets(user_id=brand_id, start_time=since)
            self._bill(posts_read=_count(body))  # billed as post reads, like the mentions timeline
            for tweet in _items(body):
                replied_to = [r.get("id") for r in tweet.get("referenced_tweets") or []
                              if isinstance(r, dict) and r.get("type") == "replied_to"]
                if message.in_reply_to_external_id in replied_to and ours(tweet.get("text")):
                    found = str(tweet["id"])
                    break
        if found:
            sent_message_record(channel=self.channel, external_id=found, kind=kind,
                                in_reply_to=message.in_reply_to_external_id)
        return found

    # An uploaded image's id is good for 24 hours (`expires_after_secs` 86400): older ones are uploaded again.
    media_id_lifetime = timedelta(hours=23)

    def upload_media(self, media: OutboundMedia, *, message: OutboundMessage) -> str:
        """Upload the image a reply carries; X wants dm_image for a DM, tweet_image for a post."""
        category = "dm_image" if message.visibility == "private" else "tweet_image"
        if media.content_type == "image/gif":
            category = "dm_gif" if message.visibility == "private" else "tweet_gif"
        return self.client.upload_media(content=media.content, content_type=media.content_type,
                                        filename=media.filename, category=category)

    def send(self, message: OutboundMessage) -> str:
        from channels_ingest.services import sent_message_record

        if message.visibility == "private":
            if not message.recipient_external_id:
                raise PermanentError("No customer id to send a direct message to.")
            sent = self.client.direct_message(participant_id=message.recipient_external_id, text=message.text,
                                              media_id=message.media_id)
            kind = "direct"
        else:
            if not message.in_reply_to_external_id:
                raise PermanentError("No post to reply to.")
            sent = self.client.reply(in_reply_to_tweet_id=message.in_reply_to_external_id, text=message.text,
                                     media_id=message.media_id)
            kind = "public_reply"
        self._bill(created=1)
        # Remembered so the reply coming back in the mentions timeline (or as a DM event) is known as ours.
        sent_message_record(channel=self.channel, external_id=sent, kind=kind,
                            in_reply_to=message.in_reply_to_external_id)
        return sent
