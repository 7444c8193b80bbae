"""The connectors' error classes, and which failed requests may still have reached the network."""

import random

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError


class ConnectorError(Exception):
    """Base class for failures talking to a network."""


class TransientError(ConnectorError):
    """Worth retrying later: timeouts, 5xx, rate limits."""

    def __init__(self, message: str, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


# What X's refusals for the app's own allowance say (x/client.py _quota_refusal): the credits run out for reads and
# posts alike; a usage cap (the monthly Post cap) counts the posts read, not those written.
QUOTA_CREDITS = ("X refused the request: the X app's pay-per-use credits are used up; add credits in X's "
                 "Developer Console")
QUOTA_CAP = {"Monthly": "X refused the request: the X app reached its monthly usage cap",
             "Daily": "X refused the request: the X app reached its daily usage cap",
             "": "X refused the request: the X app reached its usage cap"}


class QuotaExhausted(TransientError):
    """The network's own allowance for our app is spent: X's pay-per-use credits, or a usage cap (the monthly Post
    cap). Nothing is read or posted until credits are added or the cap resets, whatever the rate-limit headers say;
    the wait is an hour, not a rate window (see x/client.py). Not sent: a send refused so is not on the network."""


class PermanentError(ConnectorError):
    """Retrying will not help: bad request, revoked token, deleted target. `code`: the network's own error code,
    where it gave one (Graph's `error.code`)."""

    def __init__(self, message: str = "", *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class DeliveryUnknown(PermanentError):
    """A send failed after the request left (a timeout, a dropped connection, a 5xx): it may have been posted.
    Never re-sent blindly: a retry first looks for the post on the network where the API allows it."""


class RecipientUnreachable(PermanentError):
    """The network refused a private message to this person (on X: their DMs are not open to the brand).
    Nothing was sent; sending again will not help until they open their DMs or write to the brand."""


class AuthError(PermanentError):
    """The channel's credentials were refused: the channel needs re-authorisation."""


class MalformedPayload(Exception):
    """The network answered, but not with something we can read. The payload goes to the dead letters."""

    def __init__(self, reason: str, payload: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.payload = payload


def may_have_arrived(exc: requests.RequestException) -> bool:
    """Whether a request that failed with `exc` may still have been received and acted on by the server.

    Only failures to open the connection (refused, DNS, connect timeout, TLS handshake) prove that nothing
    left; a reset or a read timeout after the request was written may come after the server processed it.
    """
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError, requests.exceptions.InvalidURL)):
        return False
    if isinstance(exc, requests.ConnectionError):
        # requests wraps urllib3's verdict: MaxRetryError(reason=NewConnectionError) when connecting failed,
        # a bare ProtocolError ("Connection aborted.") when the server hung up on a sent request.
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        # NewConnectionError and NameResolutionError are ConnectTimeoutError subclasses in urllib3.
        return not isinstance(reason, ConnectTimeoutError)
    return True


def retry_countdown(exc: TransientError, retries: int, *, base: int = 5, cap: int = 300) -> int:
    """Seconds before a task's next try: the network's own reset when it gave one (a 429's; trying earlier
    only spends attempts), else exponential backoff with jitter."""
    if exc.retry_after_seconds:
        return int(exc.retry_after_seconds) + 1
    return random.randint(base, max(base, min(cap, base * 2 ** retries)))
