class OAuthError(Exception):
    """A login that cannot finish; the message is for the tenant admin."""
