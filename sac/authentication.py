"""API tokens bound to one membership. Kept apart from sac.api: DRF imports this while loading its views."""

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .models import ApiToken
from .services import api_token_used


class MembershipTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer sac_…`. The token decides the tenant, never a URL or a parameter."""

    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected 'Bearer <token>'.")
        token = (
            ApiToken.objects.select_related("membership__user", "membership__tenant")
            .filter(digest=ApiToken.digest_of(header[1]), revoked_at__isnull=True, membership__is_active=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        api_token_used(token=token)
        return token.membership.user, token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"
