"""The token endpoints: simplejwt's views behind a login throttle.

Every `/auth/token` attempt counts twice in the shared cache: once for the username tried and
once for the client address (exportsite.client_ip, which a client cannot choose). Either count
over EXPORTS_LOGIN_RATE answers 429, so neither rotating addresses against one account nor
trying many accounts from one address gets more guesses.
"""

from __future__ import annotations

import hashlib

from django.contrib.auth import get_user_model
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from exports.permissions import PerUserThrottle
from exports.throttling import AtomicRateThrottle
from exportsite.client_ip import client_address
from exportsite.conf import export_settings


class _LoginThrottle(AtomicRateThrottle):
    def get_rate(self) -> str:
        return export_settings().login_rate


class LoginAddressThrottle(_LoginThrottle):
    scope = "login-address"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


class LoginUsernameThrottle(_LoginThrottle):
    scope = "login-username"

    def get_cache_key(self, request, view) -> str | None:
        data = request.data if isinstance(request.data, dict) else {}
        username = data.get("username")
        if not isinstance(username, str) or not username:
            return None  # the serializer answers 400 for it
        # Hashed: usernames are personal data and stay out of cache keys.
        ident = hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}


class RevocationCheckingRefreshSerializer(TokenRefreshSerializer):
    """simplejwt checks the password hash claim (CHECK_REVOKE_TOKEN) when an access token is used,
    not when a refresh token is: without this, a refresh token from before a password change
    would still be exchanged. A deleted or deactivated user is refused as well."""

    def validate(self, attrs: dict) -> dict:
        refresh = RefreshToken(attrs["refresh"])  # signature, expiry and blacklist
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
        if (
            user is None
            or not api_settings.USER_AUTHENTICATION_RULE(user)
            or refresh.payload.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password)
        ):
            raise AuthenticationFailed("The refresh token is no longer valid.", "token_revoked")
        return super().validate(attrs)


class LoginTokenView(TokenObtainPairView):
    """POST username + password → access + refresh token."""

    throttle_classes = [PerUserThrottle, LoginAddressThrottle, LoginUsernameThrottle]


class RefreshTokenView(TokenRefreshView):
    """POST refresh → a new access and refresh token; the refresh token used is blacklisted."""

    serializer_class = RevocationCheckingRefreshSerializer
    throttle_classes = [PerUserThrottle, LoginAddressThrottle]
