class ConnectorError(Exception):
    """Base class for failures talking to a network."""


class TransientError(ConnectorError):
    """Worth retrying later: timeouts, 5xx, rate limits."""

    def __init__(self, message: str, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class PermanentError(ConnectorError):
    """Retrying will not help: bad request, revoked token, deleted target."""


class DeliveryUnknown(PermanentError):
    """A send timed out after the request left: it may have been posted. Never retried automatically."""


class AuthError(PermanentError):
    """The channel's credentials were refused: the channel needs re-authorisation."""


class MalformedPayload(Exception):
    """The network answered, but not with something we can read. The payload goes to the dead letters."""

    def __init__(self, reason: str, payload: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.payload = payload
