"""Login sessions of the portal simulator (LGSP-style ``/auth`` tokens with a TTL).

Sessions live in memory on purpose: a restarted gateway forgets them, and the client must cope
by logging in again on error 100 -- exactly the path the hub's adapter has to get right.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable

__all__ = ["SessionRegistry"]


class SessionRegistry:
    """Issues random session tokens and checks them against the *current* TTL."""

    def __init__(self, username: str, password: str, ttl_s: Callable[[], float]) -> None:
        self._username = username.encode()
        self._password = password.encode()
        self._ttl_s = ttl_s
        self._issued: dict[str, float] = {}
        self._lock = threading.Lock()

    def login(self, username: object, password: object) -> str | None:
        """A new session token, or ``None`` for wrong credentials (compared in constant time)."""
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        user_ok = hmac.compare_digest(username.encode(), self._username)
        pass_ok = hmac.compare_digest(password.encode(), self._password)
        if not (user_ok and pass_ok):
            return None
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            self._issued[token] = now
        return token

    def valid(self, token: object) -> bool:
        """True if ``token`` was issued and is younger than the TTL in force now."""
        if not isinstance(token, str) or not token:
            return False
        with self._lock:
            issued = self._issued.get(token)
        return issued is not None and time.monotonic() - issued < self._ttl_s()

    def ttl_s(self) -> float:
        return self._ttl_s()

    def _prune(self, now: float) -> None:
        if len(self._issued) < 1024:
            return
        ttl = self._ttl_s()
        for token, issued in list(self._issued.items()):
            if now - issued >= ttl:
                del self._issued[token]
