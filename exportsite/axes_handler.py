"""django-axes' cache handler, made safe against a counter that vanishes between its `add` and
its `incr` (expired, or evicted by Redis): axes then raised ValueError out of authenticate(),
a 500 on /auth/token. The attempt is simply counted again, which adds the key afresh."""

from __future__ import annotations

from axes.handlers.cache import AxesCacheHandler


class SharedCacheAxesHandler(AxesCacheHandler):
    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        try:
            return super().user_login_failed(sender, credentials, request, **kwargs)
        except ValueError:
            return super().user_login_failed(sender, credentials, request, **kwargs)
