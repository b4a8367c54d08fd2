"""The ``spotify`` health check: a warning, never a readiness failure.

An outage of Spotify (or of the network) must not get the container restarted, so the check
is not critical. It warns when no client id is configured, when the provider cannot be
reached and when an account has to sign in with Spotify again; else it is ok.

Reachability is probed with one short ``HEAD`` request to the configured Web API base URL
(any HTTP answer below 500 means "reachable": Spotify answers 401/404 there without a
token). The result is cached: the provider is asked at most once per :data:`PROBE_EVERY`
seconds, however often ``/health`` is called.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from soulspot.types import CheckResult, HealthCheck

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime

#: At most one request to the provider per this many seconds.
PROBE_EVERY = 60.0
#: Timeout of the probe request (the check itself gets a little more).
PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Reachability:
    ok: bool
    message: str
    checked_at: float


class ProviderProbe:
    """A cached reachability probe of one URL."""

    def __init__(self, url: str, timeout: float, every: float = PROBE_EVERY) -> None:
        self.url = url
        self.timeout = timeout
        self.every = every
        self._lock = threading.Lock()
        self._last: Reachability | None = None

    def get(self) -> Reachability:
        with self._lock:  # concurrent callers wait for the one probe in flight
            last = self._last
            if last is not None and time.monotonic() - last.checked_at < self.every:
                return last
            self._last = self._probe()
            return self._last

    def _probe(self) -> Reachability:
        import requests

        from soulspot import api

        try:
            resp = requests.head(
                self.url,
                headers={"X-Request-ID": api.request_id()},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return Reachability(
                False, f"Spotify cannot be reached ({type(exc).__name__})", time.monotonic()
            )
        if resp.status_code >= 500:
            return Reachability(
                False, f"Spotify answers with errors (HTTP {resp.status_code})", time.monotonic()
            )
        return Reachability(True, "reachable", time.monotonic())


def spotify_check(rt: Runtime) -> HealthCheck:
    probe = ProviderProbe(
        rt.config.api_base_url, min(PROBE_TIMEOUT, rt.config.http_timeout_seconds)
    )

    def check() -> CheckResult:
        from soulspot import api

        with api.storage().connection():
            client_id = rt.client_id()
            if not client_id:
                return CheckResult(
                    "warn",
                    "not connected to a Spotify app yet: finish the setup at /auth/setup",
                    {"configured": False},
                )
            reauth = _accounts_needing_reauth(rt)
        reach = probe.get()
        # the accounts (due or not) in every answer: whoever watches them (notifications)
        # must not read "Spotify unreachable" as "nothing is due any more"
        details: dict[str, Any] = {"configured": True, "reachable": reach.ok, "accounts": reauth}
        if not reach.ok:
            return CheckResult("warn", reach.message, details)
        if reauth:
            return CheckResult(
                "warn", "re-authorisation needed: sign in with Spotify again", details
            )
        return CheckResult("ok", "configured and reachable", details)

    # Not critical: Spotify being down is no reason to restart SoulSpot.
    return HealthCheck("spotify", check, critical=False, timeout=PROBE_TIMEOUT + 1.0)


def _accounts_needing_reauth(rt: Runtime) -> list[dict[str, Any]]:
    """Accounts whose tokens were purged, or whose refresh token expires within the warning
    window (no token values here: ids, reasons and days only)."""
    from .models import SpotifyToken

    found = []
    for row in SpotifyToken.select(SpotifyToken.user_id):
        status = rt.tokens.status(row.user_id)
        if status.warn:
            found.append(
                {
                    "user": status.user_id,
                    "reason": status.reason or "refresh token expires soon",
                    "days_left": status.days_left,
                }
            )
    return found
