"""``[plugins.security]``: headers, rate limits, CORS, CSRF, body size and audit retention."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .origins import check_cors, check_exact


def _check_limit(value: str) -> str:
    from limits import parse_many

    value = value.strip()
    if not value:
        return value
    try:
        parse_many(value)
    except ValueError:
        raise ValueError(
            "expected a rate limit like '10/minute' or '100 per hour; 5/second'"
        ) from None
    return value


class SecurityConfig(BaseModel):
    """The ``[plugins.security]`` section."""

    model_config = ConfigDict(extra="forbid")

    # --- headers ---------------------------------------------------------------------------
    referrer_policy: Literal[
        "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"
    ] = Field("same-origin", description="Referrer-Policy header sent with every response.")
    hsts_max_age: int = Field(
        31536000,
        ge=0,
        description=(
            "Strict-Transport-Security max-age in seconds. Sent only when [kernel] public_url "
            "is https; never on plain http."
        ),
    )
    hsts_include_subdomains: bool = Field(
        False, description="Add includeSubDomains to HSTS (only if every subdomain has HTTPS)."
    )
    # --- rate limits -----------------------------------------------------------------------
    rate_limits_enabled: bool = Field(
        True, description="false turns every rate limit off (not recommended)."
    )
    rate_limit_storage_uri: str = Field(
        "memory://",
        description=(
            "Where rate-limit counters live (flask-limiter storage URI). memory:// is right "
            "for the single `soulspot serve` process; use redis://host:6379 or "
            "memcached://host:11211 only if you run several processes behind one proxy."
        ),
    )
    rate_limit_strategy: Literal["fixed-window", "moving-window", "sliding-window-counter"] = Field(
        "fixed-window", description="flask-limiter strategy for counting requests."
    )
    rate_limit_auth: str = Field(
        "10/minute",
        description=(
            "Limit shared by every /auth/* route (sessions page, setup, signed-out page) but "
            "the sign-in start and callback, counted per session when signed in, else per "
            "client address. Sign-out and revoking sessions are never refused with a valid "
            "session."
        ),
    )
    rate_limit_sign_in: str | None = Field(
        None,
        description=(
            "Limit of the route that starts a sign-in (/auth/login), in a bucket of its own, "
            "per client address (per session when signed in). Unset: the value of "
            "rate_limit_auth; empty: none."
        ),
    )
    rate_limit_sign_in_callback: str | None = Field(
        None,
        description=(
            "Limit of the route the identity provider sends the browser back to "
            "(/auth/callback), in a bucket of its own, counted like rate_limit_sign_in. "
            "Unset: the value of rate_limit_auth; empty: none."
        ),
    )
    rate_limit_api: str = Field(
        "300/minute",
        description=(
            "Limit shared by every /api/* route, counted per session when signed in, per API "
            "token for token requests, else per client address."
        ),
    )
    rate_limit_default: str = Field(
        "",
        description=(
            "Limit per route for every other page, counted like rate_limit_api (empty: none)."
        ),
    )
    rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Per-endpoint limits that replace the ones above, keyed by Flask endpoint name "
            "(blueprint.view; API routes show it as operationId in /api/openapi.json), e.g. "
            '{"spotify.login" = "5/minute"}. The CSP report endpoint "security.csp_report" '
            "is limited to 30/minute unless set here."
        ),
    )
    api_token_rate_limit: str = Field(
        "120/minute",
        description=(
            "Limit per personal API token (Authorization: Bearer ssp_...), counted per token, "
            "not per address (empty: none)."
        ),
    )
    # --- CORS ------------------------------------------------------------------------------
    cors_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Origins allowed to call /api/* from a browser (CORS), e.g. "
            '["https://dash.example.org"]: exact origins, or "https://*.example.org" for '
            "every subdomain of example.org (nothing else: no bare *, no regex). Empty: "
            "same-origin only (no CORS headers)."
        ),
    )
    cors_allow_credentials: bool = Field(
        False, description="Let allowed origins send cookies with CORS requests."
    )
    cors_max_age: int = Field(600, ge=0, description="Seconds a browser may cache a preflight.")
    # --- CSRF ------------------------------------------------------------------------------
    csrf_trusted_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Other origins whose state-changing requests are accepted (besides the app's own "
            "origin and [kernel] public_url); exact origins only."
        ),
    )
    # --- input -----------------------------------------------------------------------------
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest request body accepted (bytes); larger requests get 413.",
    )
    json_max_bytes: int = Field(
        1_048_576,
        ge=1024,
        description=(
            "Largest JSON body any route parses (bytes); larger ones get 413, before parsing."
        ),
    )
    json_max_depth: int = Field(
        32,
        ge=2,
        le=500,
        description=(
            "Deepest nesting of arrays and objects in a JSON body; deeper ones get 400 "
            "(Python's parser recurses per level: unbounded, a small body could crash it)."
        ),
    )
    # --- refused requests ------------------------------------------------------------------
    audit_window_seconds: int = Field(
        60,
        ge=1,
        le=86400,
        description=(
            "Window for refused requests (CSRF, bad API tokens): the first refusal of each "
            "kind per client is audited, the rest are counted in one summary row per window."
        ),
    )
    audit_max_per_client: int = Field(
        20,
        ge=1,
        description="Most audit rows refused requests of one client write per window.",
    )
    audit_max_per_window: int = Field(
        300,
        ge=1,
        description="Most audit rows refused requests of all clients together write per window.",
    )
    refused_per_window: int = Field(
        60,
        ge=1,
        description=(
            "Refused requests a client may send per window on any path; past it they get "
            "429 with Retry-After (requests that are not refused are never limited by it)."
        ),
    )
    # --- audit log -------------------------------------------------------------------------
    audit_retention_days: int = Field(
        365,
        ge=0,
        description="Audit events older than this are pruned daily (0: keep forever).",
    )
    audit_page_size: int = Field(
        50, ge=5, le=500, description="Audit events per page on the Audit page."
    )

    @field_validator(
        "rate_limit_auth", "rate_limit_api", "rate_limit_default", "api_token_rate_limit"
    )
    @classmethod
    def _limit(cls, value: str) -> str:
        return _check_limit(value)

    @field_validator("rate_limit_sign_in", "rate_limit_sign_in_callback")
    @classmethod
    def _sign_in_limit(cls, value: str | None) -> str | None:
        return None if value is None else _check_limit(value)

    @field_validator("rate_limits")
    @classmethod
    def _limits(cls, value: dict[str, str]) -> dict[str, str]:
        return {k: _check_limit(v) for k, v in value.items()}

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: list[str]) -> list[str]:
        return [check_cors(v) for v in value]

    @field_validator("csrf_trusted_origins")
    @classmethod
    def _trusted_origins(cls, value: list[str]) -> list[str]:
        return [check_exact(v) for v in value]

    @field_validator("rate_limit_storage_uri")
    @classmethod
    def _storage(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("expected a storage URI like memory:// or redis://host:6379")
        return value
