"""Graph API over `requests`, for Facebook Pages and Instagram accounts, against graph.facebook.com or any
base URL (the simulator, a loopback test server)."""

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.conf import settings

from channels_ingest.errors import (
    AuthError,
    DeliveryUnknown,
    MalformedPayload,
    PermanentError,
    TransientError,
    may_have_arrived,
)
from channels_ingest.types import BadItem, Page

from .comment_paging import (
    Walk,
    gap_open,
    gaps_dump,
    gaps_load,
    gaps_read,
    head_read,
    implicit_mark,
    marks_advance,
    older_than,
    pass_begin,
    reached,
    read_time,
    walk,
)

log = logging.getLogger(__name__)

GRAPH_API_URL = "https://graph.facebook.com/v21.0"
# Graph throttling codes (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/):
# 4 app, 17 user, 32 page, 613 custom rate limit; 80001-80014 business use case limits.
RATE_LIMIT_CODES = {4, 17, 32, 613}
# Meta throttles for "up to an hour" once an app's usage reaches 100 %.
THROTTLED_WAIT_SECONDS = 3600
DEFAULT_RATE_WAIT_SECONDS = 300
EXPIRED_TOKEN_CODES = {190, 102}
# Above this share of the hourly budget, slow the next poll down before Meta throttles us.
USAGE_SLOW_DOWN_PCT = 80


def meta_usage(headers: Any) -> tuple[int | None, int | None]:
    """(the highest share of its rate budget Meta's usage headers report, None without any; the longest
    `estimated_time_to_regain_access` they name, in seconds, None without) from X-App-Usage, X-Page-Usage and
    X-Business-Use-Case-Usage."""
    worst, wait = None, None
    for name in ("X-App-Usage", "X-Page-Usage", "X-Business-Use-Case-Usage"):
        value = headers.get(name)
        if not value:
            continue
        try:
            usage = json.loads(value)
        except ValueError:
            continue
        buckets = [b for entries in usage.values() for b in entries] if name == "X-Business-Use-Case-Usage" \
            and isinstance(usage, dict) else [usage]
        for bucket in buckets:
            if not isinstance(bucket, dict):
                continue
            pct = max(int(bucket.get(k) or 0) for k in ("call_count", "total_cputime", "total_time"))
            worst = pct if worst is None else max(worst, pct)
            minutes = bucket.get("estimated_time_to_regain_access")
            if minutes:
                wait = max(wait or 0, int(minutes) * 60)
    return worst, wait


def usage_wait_seconds(worst: int | None, regain: int | None) -> int | None:
    """How long to wait given meta_usage's reading, or None when there is room."""
    if regain:
        return regain
    worst = worst or 0
    if worst >= 100:
        return THROTTLED_WAIT_SECONDS
    if worst >= USAGE_SLOW_DOWN_PCT:
        # Spread the remaining budget: the hourly window refills linearly.
        return int(THROTTLED_WAIT_SECONDS * (worst - USAGE_SLOW_DOWN_PCT) / (100 - USAGE_SLOW_DOWN_PCT)) or 60
    return None


class GraphClient:
    def __init__(self, *, access_token: str, base_url: str = "", timeout: float | None = None,
                 network: str = "Facebook") -> None:
        self.access_token = access_token
        self.base_url = (base_url or getattr(settings, "SAC_GRAPH_API_URL", GRAPH_API_URL)).rstrip("/")
        self.timeout = timeout or settings.SAC_HTTP_TIMEOUT_SECONDS
        self.network = network
        self.session = requests.Session()
        # The latest usage-header verdict: the poller moves next_poll_at by it.
        self.slow_down_seconds: int | None = None
        self.rate_budget = ""  # the latest answer's usage headers, for the poll run's record

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._request("GET", path, params=params or {})

    def get_url(self, url: str) -> dict[str, Any]:
        """Follow a `paging.next` URL, re-based on our host so a test server's paging stays on loopback."""
        marker = "graph.facebook.com/"
        if marker in url:
            rest = url.split(marker, 1)[1]
            rest = rest.split("/", 1)[1] if rest.startswith("v") and "/" in rest else rest
            url = f"{self.base_url}/{rest}"
        return self._request("GET", url, params={}, absolute=True)

    def post(self, path: str, data: dict[str, Any], *, safe_to_repeat: bool = False) -> dict[str, Any]:
        """A write. Not safe to repeat unless said (a comment or message would go out twice); a setting such as a
        webhook subscription is, so its failures are plain transient errors rather than "delivery unknown"."""
        return self._request("POST", path, json_body=data, safe_to_repeat=safe_to_repeat)

    def upload(self, path: str, data: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> dict[str, Any]:
        """A multipart upload (an unpublished photo, a Messenger attachment). It shows the customer nothing, so
        repeating it after a doubtful answer is safe: failures are transient, not "delivery unknown"."""
        return self._request("POST", path, form=data, files=files)

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                 json_body: dict[str, Any] | None = None, absolute: bool = False,
                 safe_to_repeat: bool = True, form: dict[str, str] | None = None,
                 files: dict[str, tuple[str, bytes, str]] | None = None) -> dict[str, Any]:
        if not self.access_token:
            raise AuthError(f"The channel has no {self.network} access token: connect it again.")
        url = path if absolute else f"{self.base_url}/{path.lstrip('/')}"
        headers = {"Authorization": f"Bearer {self.access_token}"}
        try:
            response = self.session.request(method, url, params=params, json=json_body, data=form, files=files,
                                            headers=headers, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            if not safe_to_repeat and may_have_arrived(exc):
                # The request reached Meta and we do not know if it was posted: a retry could post twice.
                what = "did not answer in time" if isinstance(exc, requests.ReadTimeout) else "dropped the connection"
                raise DeliveryUnknown(f"{self.network} {what} after receiving the message; it may have been "
                                      "posted") from exc
            if isinstance(exc, requests.ReadTimeout):
                raise TransientError(f"{self.network} did not answer in time") from exc
            raise TransientError(f"{self.network} unreachable: {exc.__class__.__name__}") from exc
        worst, regain = meta_usage(response.headers)
        self.slow_down_seconds = usage_wait_seconds(worst, regain)
        if worst is not None:
            self.rate_budget = f"Graph rate budget: {worst} % used"
        try:
            body = response.json()
        except ValueError as exc:
            if response.status_code >= 500:
                raise self._server_error(f"{self.network} server error {response.status_code}",
                                         safe_to_repeat) from exc
            raise MalformedPayload(f"{self.network} answered with invalid JSON ({response.status_code})",
                                   response.text[:100_000]) from exc
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            raise self._error(response.status_code, body, safe_to_repeat=safe_to_repeat)
        if not isinstance(body, dict):
            raise MalformedPayload(f"{self.network} answered with JSON that is not an object", response.text[:100_000])
        return body

    def _server_error(self, described: str, safe_to_repeat: bool) -> Exception:
        if safe_to_repeat:
            return TransientError(described)
        # Meta's 5xx and "unknown / temporary" errors (codes 1, 2) can follow a post it stored.
        return DeliveryUnknown(f"{described} — after receiving the message; it may have been posted")

    def _error(self, status: int, body: Any, *, safe_to_repeat: bool = True) -> Exception:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            if status >= 500:
                return self._server_error(f"{self.network} server error {status}", safe_to_repeat)
            return PermanentError(f"{self.network} answered {status}")
        code = error.get("code")
        message = str(error.get("message", ""))
        described = f"{self.network} error {code}: {message}"
        if code in RATE_LIMIT_CODES or (isinstance(code, int) and 80001 <= code <= 80014):
            return TransientError(f"{self.network} rate limit reached ({code})",
                                  retry_after_seconds=self.slow_down_seconds or DEFAULT_RATE_WAIT_SECONDS)
        if code in EXPIRED_TOKEN_CODES:
            return AuthError(f"{described} — the page token expired or was revoked: connect the channel again.")
        if error.get("is_transient") or code in (1, 2) or status >= 500:
            return self._server_error(described, safe_to_repeat)
        return PermanentError(described, code=code if isinstance(code, int) else None)


def _items(body: Any) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    return [item for item in data if isinstance(item, dict) and item.get("id")] if isinstance(data, list) else []


def _same_text(ours: str, theirs: Any) -> bool:
    return isinstance(theirs, str) and " ".join(theirs.split()) == " ".join(ours.split())


def _graph_time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


# ---------------------------------------------------------------- the connector

LOOKBACK_DAYS = 7  # how far back the catch-up poll pages through the feed
# What one fetch_page may cost, so a page with a viral post cannot spend the app's hourly Graph budget:
# - the feed call, whose posts each carry their newest COMMENT_PAGE_SIZE (50) comments, replies included;
# - for a post with more comments than that, further pages (newest first) until one reaches the comments the last
#   poll saw (its watermark in the channel cursor), then the pages of bursts earlier polls could not finish (the
#   cursor's gaps, see comment_paging.py): at most MAX_COMMENT_PAGES for one post and MAX_COMMENT_CALLS_PER_FETCH
#   for the fetch, the newest comments of every post of the feed page first (newest posts first), then the gaps;
# - once the feed is caught up, the Messenger inbox, most recently updated conversation first, page after page
#   until one was not updated since the last poll, at most MAX_CONVERSATION_PAGES pages of 25.
# That is at most 1 + 10 + 4 calls per fetch_page (and channel_poll runs at most MAX_PAGES_PER_POLL of them);
# a quiet page costs 2. A post that gets more than (1 + MAX_COMMENT_PAGES) × 50 comments between two polls is read
# newest first, the rest of its burst at the next polls; more than 100 conversations updated between two polls
# leave the oldest of them to the webhooks.
MAX_COMMENT_PAGES = 3
MAX_COMMENT_CALLS_PER_FETCH = 10
MAX_CONVERSATION_PAGES = 4
CONVERSATIONS_PAGE_SIZE = 25
PRIVATE_REPLY_WINDOW_DAYS = 7


def graph_client_for(channel: Any, *, network: str = "Facebook") -> GraphClient:
    """A Graph client with the channel's token: its page access token (Facebook, and an Instagram account connected
    through its page), else the access token it was connected with by hand."""
    credentials = channel.credentials or {}
    return GraphClient(access_token=credentials.get("page_access_token") or credentials.get("access_token", ""),
                       base_url=channel.api_base_url, network=network)


class MetaConnector:
    """What is common to Facebook Pages and Instagram accounts: outbound bookkeeping and the private reply rule."""

    network = "Facebook"

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.client = graph_client_for(channel, network=self.network)
        # Whom the latest private reply to a comment reached (the customer's page- or Instagram-scoped id), from
        # the send's answer or, after a send that ended in doubt, from the conversation find_sent found it in.
        self.last_recipient_id = ""
        # What the page being fetched had to skip (head_read), for the poll run's record.
        self.notes: list[str] = []

    def _page(self, **fields: Any) -> Page:
        """A Page with what the Graph answers said of the rate budget: how long to wait before the next poll
        (usage headers near the limit) and, for the poll run's record, how much of it is used; and what it skipped."""
        notes, self.notes = self.notes, []
        return Page(next_poll_in_seconds=self.client.slow_down_seconds, rate_budget=self.client.rate_budget,
                    notes=notes, **fields)

    def _mention(self, external_id: str) -> Any:
        from channels_ingest.models import Mention

        return Mention.objects.filter(tenant_id=self.channel.tenant_id, channel_id=self.channel.pk,
                                      external_id=external_id).first()

    def _private_reply(self, comment_id: str, text: str) -> str:
        """POST /{account}/messages with recipient.comment_id: Meta allows it once per comment, within 7 days."""
        from django.utils import timezone

        from channels_ingest import services
        from channels_ingest.errors import PermanentError

        comment = self._mention(comment_id)
        if comment is None or comment.kind != "comment":
            raise PermanentError(f"{self.network} private replies answer a comment; this case has no comment to "
                                 "answer privately. Reply publicly instead.")
        age = timezone.now() - comment.posted_at
        if age.days >= PRIVATE_REPLY_WINDOW_DAYS:
            raise PermanentError(
                f"{self.network} allows a private reply to a comment only within {PRIVATE_REPLY_WINDOW_DAYS} days; "
                f"this comment was written {age.days} days ago. Reply publicly and ask the customer to send "
                "the page a message.")
        reservation = services.private_reply_reserve(channel=self.channel, comment_id=comment_id,
                                                     permalink=comment.permalink)
        if reservation is None:
            raise PermanentError(
                f"{self.network} allows only one private reply per comment, and this comment already has one. "
                "Continue in the private conversation once the customer answers, or reply publicly.")
        try:
            body = self.client.post(f"{self.channel.external_account_id}/messages", {
                "recipient": {"comment_id": comment_id}, "message": {"text": text}, "messaging_type": "RESPONSE",
            })
        except DeliveryUnknown:
            raise  # it may have gone out: keep the reservation, a second one would be refused anyway
        except Exception:
            services.private_reply_release(channel=self.channel, reservation_id=reservation)
            raise
        message_id = str(body.get("message_id") or "")
        if not message_id:
            raise MalformedPayload(f"{self.network} answered a private reply without message_id", json.dumps(body))
        services.sent_message_record(channel=self.channel, external_id=message_id, kind="private_reply",
                                     in_reply_to=comment_id, reservation_id=reservation)
        # The Send API answers {recipient_id, message_id} (developers.facebook.com/docs/graph-api/reference/page/
        # messages). recipient_id is the commenter's page-scoped id, the one their Messenger answer comes from (not
        # their commenter id): the inbox records it on the reply (reply_deliver) so that answer joins the case.
        self.last_recipient_id = str(body.get("recipient_id") or "")
        return message_id

    # Where a public answer to `target` is listed, which fields to ask for, and how it names its author.
    replies_edge, reply_fields, text_key, time_key = "comments", "id,message,from,created_time", "message", \
        "created_time"
    messaging_platform = "messenger"

    def _is_ours(self, item: dict[str, Any]) -> bool:
        author = item.get("from")
        return isinstance(author, dict) and str(author.get("id")) == self.channel.external_account_id

    def find_sent(self, message: Any, *, since: datetime, matches: Callable[[str], bool] | None = None) -> str | None:
        """After a send ended in doubt: the id of our answer if Meta has it (then recorded as ours), else None.

        A public answer is looked for among the target's replies written by the account since `since`; a
        private one among the latest messages the account sent with the same text (a private reply to a comment
        found there sets `last_recipient_id` from its conversation, as the send's answer does). `matches`
        replaces the text comparison when each attempt words the message differently."""
        since = since - timedelta(minutes=1)  # slack for the two clocks
        target = message.in_reply_to_external_id
        ours = (lambda text: isinstance(text, str) and matches(text)) if matches is not None \
            else (lambda text: _same_text(message.text, text))
        if message.visibility == "private":
            return self._find_private(message, since, ours)
        body = self.client.get(f"{target}/{self.replies_edge}", {"fields": self.reply_fields, "limit": 50,
                                                                 "order": "reverse_chronological"})
        for item in _items(body):
            if self._is_ours(item) and ours(item.get(self.text_key)) \
                    and _graph_time(item.get(self.time_key)) >= since:
                return self._record(str(item["id"]), "public_reply", target)
        return None

    def _find_private(self, message: Any, since: datetime, ours: Callable[[Any], bool]) -> str | None:
        from channels_ingest import services
        from channels_ingest.models import SentMessage

        target = message.in_reply_to_external_id
        replied = self._mention(target) if target else None
        params: dict[str, Any] = {"platform": self.messaging_platform, "limit": 25,
                                  "fields": "participants,messages.limit(25){id,message,from,to,created_time}"}
        reservation = None
        to_comment = replied is None or replied.kind != "direct"
        if not to_comment and replied.author_id:
            params["user_id"] = replied.author.external_id
        elif target:
            reservation = SentMessage.objects.filter(tenant_id=self.channel.tenant_id, channel=self.channel,
                                                     private_reply_to_comment=target, external_id="").first()
        self.last_recipient_id = ""
        candidates = [(c, i) for c, i in self._our_messages(params, since) if ours(i.get("message"))]
        if candidates:
            # A message of ours already on record is another reply's (the same canned text sent to someone else).
            recorded = set(SentMessage.objects.filter(
                tenant_id=self.channel.tenant_id, channel=self.channel,
                external_id__in=[str(i["id"]) for _c, i in candidates]).values_list("external_id", flat=True))
            candidates = [(c, i) for c, i in candidates if str(i["id"]) not in recorded]
        if to_comment:
            candidates = self._to_the_commenter(candidates, replied)
        if candidates:
            conversation, item = candidates[0]
            if to_comment:
                # What the Send API's recipient_id would have said: the inbox records it on the reply so the
                # customer's Messenger (or Instagram) answer, which comes from this id, joins the case.
                self.last_recipient_id = self._recipient(conversation, item)
            if reservation is not None:
                services.sent_message_record(channel=self.channel, external_id=str(item["id"]),
                                             kind="private_reply", in_reply_to=target,
                                             reservation_id=reservation.pk)
                return str(item["id"])
            return self._record(str(item["id"]), "direct", target)
        if reservation is not None:
            # Not there: give the comment's one private reply back so the retry can use it (Meta itself
            # refuses a second private reply to a comment, so even a late-appearing first one cannot double).
            services.private_reply_release(channel=self.channel, reservation_id=reservation.pk)
        return None

    def _our_messages(self, params: dict[str, Any],
                      since: datetime) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """The page's own Messenger messages sent since `since` (newest first), each with its conversation."""
        body = self.client.get(f"{self.channel.external_account_id}/conversations", params)
        for conversation in _items(body):
            messages = conversation.get("messages")
            for item in _items(messages if isinstance(messages, dict) else None):
                if self._is_ours(item) and _graph_time(item.get("created_time")) >= since:
                    yield conversation, item

    def _to_the_commenter(self, candidates: list[tuple[dict[str, Any], dict[str, Any]]],
                          replied: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Of our messages with the private reply's text, the one sent to the commenter, or none.

        A private reply to a comment cannot be looked up by the customer (their Messenger id is what we are missing),
        so the page's recent conversations are searched by text, and a canned reply may have gone to others too:
        only a conversation whose other person is the commenter (Graph names people by name, Instagram by username)
        counts. When the answers name nobody, only a single match is taken; anything else is "not found", and a
        retry is safe because Meta refuses a second private reply to the same comment."""
        author = getattr(replied, "author", None) if replied is not None else None
        wanted = {getattr(author, "name", ""), getattr(author, "handle", "")} - {""}
        named = [(c, i, self._people(c, i)) for c, i in candidates]
        if wanted and any(people for _c, _i, people in named):
            candidates = [(c, i) for c, i, people in named if people & wanted]
        if len(candidates) > 1:
            log.warning("channel %s: %d messages of ours could be the private reply to %s; none adopted",
                        self.channel.pk, len(candidates), getattr(replied, "external_id", "?"))
            return []
        return candidates

    def _others(self, conversation: dict[str, Any], message: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The people a message of ours went to, not the account itself: its `to`, then the conversation's
        participants (a Messenger or Instagram conversation is one person and the account; both list people as
        {data: [{id, …}]})."""
        account = self.channel.external_account_id
        for people in (message.get("to"), conversation.get("participants")):
            yield from (person for person in _items(people) if str(person["id"]) != account)

    def _people(self, conversation: dict[str, Any], message: dict[str, Any]) -> set[str]:
        """The names and usernames of whom a message of ours went to."""
        return {str(person[key]) for person in self._others(conversation, message)
                for key in ("name", "username") if person.get(key)}

    def _recipient(self, conversation: dict[str, Any], message: dict[str, Any]) -> str:
        """Whom a message of ours went to: the first of them (its `to`, else the conversation's other participant)."""
        return next((str(person["id"]) for person in self._others(conversation, message)), "")

    def _record(self, external_id: str, kind: str, in_reply_to: str) -> str:
        from channels_ingest import services

        services.sent_message_record(channel=self.channel, external_id=external_id, kind=kind,
                                     in_reply_to=in_reply_to)
        return external_id


class FacebookConnector(MetaConnector):
    network = "Facebook"

    def fetch_page(self) -> Any:
        from django.utils import timezone

        from . import parse

        page_id = self.channel.external_account_id
        cursor = dict(self.channel.cursor or {})
        params: dict[str, Any] = {"fields": parse.POST_FIELDS, "limit": 25}
        if cursor.get("feed_after"):
            params["after"] = cursor["feed_after"]
        else:
            pass_begin(cursor, at=timezone.now())
        body = self.client.get(f"{page_id}/feed", params)
        items, bad, more_comments = parse.parse_feed(body, page_id=page_id)
        items, bad = self._more_comments(cursor, items, bad, more_comments)
        cursor["comment_marks"] = marks_advance(cursor.get("comment_marks"), (
            (i.conversation_id, i.posted_at) for i in items if i.kind == "comment"))
        oldest = min((i.posted_at for i in items if i.kind == "post"), default=None)
        after = parse.next_cursor(body)
        recent = oldest is not None and oldest > timezone.now() - timedelta(days=LOOKBACK_DAYS)
        if after and recent:
            return self._page(items=items, bad_items=bad, cursor={**cursor, "feed_after": after}, more=True)
        # The feed is caught up: read the Messenger inbox too, then start again from the newest post next time.
        mark = read_time(cursor.get("conversations_mark"))
        wait = None
        try:
            m_items, m_bad, conversations_mark = self._conversations(mark)
        except AuthError:
            raise
        except (TransientError, PermanentError) as exc:
            # Graph failing (a 5xx), refusing (the page's token may not read Messenger) or rate limiting the inbox
            # must not cost the comments just read (read again, and spending the budget again, at the next poll:
            # in a viral crisis, when the limits bite) nor stop the channel: the inbox waits, its mark unmoved,
            # with a note; a rate limit also puts the next poll off as Meta asks.
            wait = getattr(exc, "retry_after_seconds", None)
            log.warning("Facebook page %s: Messenger conversations not read (%s)", page_id, exc)
            self.notes.append(f"Facebook page {page_id}: Graph did not list the Messenger conversations ({exc}); "
                              "the comments were read")
            m_items, m_bad, conversations_mark = [], [], mark
        except MalformedPayload as exc:  # kept whole as a dead letter, with the reason; the inbox waits the same way
            log.warning("Facebook page %s: Messenger conversations unreadable (%s)", page_id, exc.reason)
            self.notes.append(f"Facebook page {page_id}: Graph did not list the Messenger conversations "
                              f"({exc.reason}); the comments were read")
            m_items, m_bad, conversations_mark = [], [BadItem(reason=exc.reason, payload=exc.payload)], mark
        cursor["conversations_mark"] = conversations_mark.isoformat() if conversations_mark else None
        page = self._page(items=items + m_items, bad_items=bad + m_bad, cursor={**cursor, "feed_after": None})
        if wait:
            page.next_poll_in_seconds = max(page.next_poll_in_seconds or 0, wait)
        return page

    def _more_comments(self, cursor: dict[str, Any], items: list[Any], bad: list[Any],
                       more_comments: list[tuple[str, str]]) -> tuple[list[Any], list[Any]]:
        """The comments of busy posts beyond the page the feed carried: first each post's newest, down to its
        watermark; then the unread parts of earlier bursts (the cursor's `comment_resume`, updated here)."""
        from django.utils import timezone

        from . import parse

        page_id = self.channel.external_account_id
        marks = cursor.get("comment_marks") or {}
        fallback = implicit_mark(cursor)
        gaps = gaps_load(cursor.get("comment_resume"))
        budget = MAX_COMMENT_CALLS_PER_FETCH
        used: dict[str, int] = {}
        pass_at, now = str(cursor.get("pass_at") or ""), timezone.now()

        def read(post_id: str, after: str, pages: int, mark: datetime | None, tolerant: bool = False) -> Walk:
            def page(body: dict[str, Any]) -> tuple[list[Any], list[Any], list[datetime]]:
                c_items, c_bad = parse.parse_comments(body, page_id=page_id, post_id=post_id)
                return c_items, c_bad, [i.posted_at for i in c_items]

            return walk(self.client.get, f"{post_id}/comments", {**parse.COMMENT_QUERY, "fields": parse.COMMENT_FIELDS},
                        after, pages=pages, parse_page=page, done=lambda times: reached(times, mark), tolerant=tolerant)

        for post_id, after in more_comments:  # the feed lists the newest posts first: they get the budget first
            mark = read_time(marks.get(post_id)) or fallback
            if reached([i.posted_at for i in items if i.kind == "comment" and i.conversation_id == post_id], mark):
                continue
            head = head_read(read, post_id, after, min(MAX_COMMENT_PAGES, budget), mark, True,
                             network="Facebook", what="post", key=post_id, items="comments", notes=self.notes)
            budget -= head.calls
            used[post_id] = head.calls
            items += head.items
            bad += head.bad
            if head.left is not None and mark is not None:
                gap_open(gaps, post_id, head, mark=mark, pass_at=pass_at, now=now)
                log.info("Facebook post %s got more comments since the last poll than one poll reads; the rest are "
                         "read at the next polls", post_id)
        walks, budget = gaps_read(gaps, lambda post_id, gap, pages: read(post_id, gap.after, pages, gap.mark, True),
                                  budget=budget, per_list=MAX_COMMENT_PAGES, used=used, network="Facebook",
                                  what="post", pass_at=pass_at, now=now)
        for found in walks:
            items += found.items
            bad += found.bad
        cursor["comment_resume"] = gaps_dump(gaps, network="Facebook", what="post")
        return items, bad

    def _conversations(self, mark: datetime | None) -> tuple[list[Any], list[Any], datetime | None]:
        """Messenger conversations updated since `mark` (Graph lists the most recently updated first), with
        their latest messages; and the newest update seen, the next poll's mark."""
        from . import parse

        page_id = self.channel.external_account_id
        params: dict[str, Any] = {"platform": "messenger", "limit": CONVERSATIONS_PAGE_SIZE,
                                  "fields": parse.CONVERSATION_FIELDS}
        items: list[Any] = []
        bad: list[Any] = []
        newest = mark
        for _ in range(MAX_CONVERSATION_PAGES):
            body = self.client.get(f"{page_id}/conversations", params)
            m_items, m_bad = parse.parse_conversations(body, page_id=page_id)
            items += m_items
            bad += m_bad
            times = parse.conversation_times(body)
            newest = max([t for t in (newest, *times) if t is not None], default=None)
            after = parse.next_cursor(body)
            if not after or older_than(times, mark):
                break
            params = {**params, "after": after}
        return items, bad, newest

    # Messenger attachment ids live 90 days, unpublished photos as long as the page keeps them: a retry within
    # days reuses the recorded id.
    media_id_lifetime = timedelta(days=30)

    def upload_media(self, media: Any, *, message: Any) -> str:
        """A public comment reply carries an unpublished page photo (`attachment_id`); a Messenger message an
        attachment uploaded with the Attachment Upload API. Other routes take no image (the inbox refuses
        them before queueing; this is the last guard)."""
        from channels_ingest.errors import PermanentError

        files = {"source": (media.filename or "image", media.content, media.content_type)}
        page_id = self.channel.external_account_id
        if message.visibility == "public":
            body = self.client.upload(f"{page_id}/photos", {"published": "false"}, files)
            key = "id"
        elif self._messenger_target(message) is not None:
            files = {"filedata": files["source"]}
            body = self.client.upload(f"{page_id}/message_attachments", {
                "message": json.dumps({"attachment": {"type": "image", "payload": {"is_reusable": True}}})}, files)
            key = "attachment_id"
        else:
            raise PermanentError("A private reply to a Facebook comment is sent as text only.")
        if not body.get(key):
            raise MalformedPayload(f"Facebook answered an image upload without {key}", json.dumps(body))
        return str(body[key])

    def _messenger_target(self, message: Any) -> Any:
        target = message.in_reply_to_external_id
        replied = self._mention(target) if target else None
        return replied if replied is not None and replied.kind == "direct" else None

    def sends_media_apart(self, message: Any) -> bool:
        """Messenger takes text or an attachment per message: the image goes first, as its own message."""
        return bool(message.media_id) and message.visibility == "private" \
            and self._messenger_target(message) is not None

    def find_sent_media(self, message: Any, *, since: datetime) -> str | None:
        """After a send ended in doubt, before its image goes again: the id of the image message the page sent
        this customer since `since` (then recorded as ours), else None.

        On Messenger the image travels as a message of its own, with no text, so it cannot be matched by text
        as find_sent matches answers. It is the page's textless message with an attachment, to this customer,
        sent since the reply was written, that SAC has not recorded for any reply: an image another reply of
        ours sent was recorded when it went, so it is never taken for this one."""
        from channels_ingest.models import SentMessage

        replied = self._messenger_target(message)
        if replied is None or not replied.author_id:
            return None
        psid = replied.author.external_id
        since = since - timedelta(minutes=1)  # slack for the two clocks
        found = []
        params = {"platform": self.messaging_platform, "user_id": psid, "limit": 25,
                  "fields": "messages.limit(25){id,message,attachments,from,to,created_time}"}
        for _conversation, item in self._our_messages(params, since):
            recipients = {str(r.get("id")) for r in _items(item.get("to"))}
            if not item.get("message") and item.get("attachments") and (not recipients or psid in recipients):
                found.append(str(item["id"]))
        known = set(SentMessage.objects.filter(tenant_id=self.channel.tenant_id, channel=self.channel,
                                               external_id__in=found).values_list("external_id", flat=True))
        for external_id in reversed(found):  # newest first from Meta: the earliest unclaimed one is this reply's
            if external_id not in known:
                return self._record(external_id, "direct", replied.external_id)
        return None

    def send_media_message(self, message: Any) -> str:
        replied = self._messenger_target(message)
        if replied is None:
            from channels_ingest.errors import PermanentError

            raise PermanentError("No Messenger conversation to send the image to.")
        return self._messenger(replied, "", attachment_id=message.media_id)

    def send(self, message: Any) -> str:
        from channels_ingest.errors import PermanentError

        target = message.in_reply_to_external_id
        if message.visibility == "private":
            replied = self._messenger_target(message)
            if replied is not None:
                return self._messenger(replied, message.text)
            return self._private_reply(target, message.text)
        if not target:
            raise PermanentError("No post or comment to reply to.")
        comment: dict[str, Any] = {"message": message.text}
        if message.media_id:
            comment["attachment_id"] = message.media_id
        body = self.client.post(f"{target}/comments", comment)
        if not body.get("id"):
            raise MalformedPayload("Facebook answered a comment without its id", json.dumps(body))
        return self._record(str(body["id"]), "public_reply", target)

    def _messenger(self, replied: Any, text: str, *, attachment_id: str = "") -> str:
        from channels_ingest.errors import PermanentError

        psid = replied.author.external_id if replied.author_id else ""
        if not psid:
            raise PermanentError("The Messenger conversation has no customer id to answer.")
        from django.utils import timezone

        content: dict[str, Any] = {"text": text}
        if attachment_id:
            content = {"attachment": {"type": "image", "payload": {"attachment_id": attachment_id}}}
        payload: dict[str, Any] = {"recipient": {"id": psid}, "message": content, "messaging_type": "RESPONSE"}
        if timezone.now() - replied.posted_at >= timedelta(hours=24):
            # Past Messenger's 24-hour window only the HUMAN_AGENT tag (7 days) may answer; the inbox allows
            # this only for pages its admin marked as approved for the tag, and Meta refuses it otherwise.
            payload.update(messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
        body = self.client.post(f"{self.channel.external_account_id}/messages", payload)
        if not body.get("message_id"):
            raise MalformedPayload("Facebook answered a message without message_id", json.dumps(body))
        return self._record(str(body["message_id"]), "direct", replied.external_id)
