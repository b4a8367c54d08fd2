"""The ``[plugins.spotify]`` config section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

#: Least privilege: reading the library and playlists is all SoulSpot does with Spotify (the
#: library plugin reads private and collaborative playlists, liked songs and saved albums, and
#: followed artists). ``/v1/me`` (who signed in) needs no scope at all.
DEFAULT_SCOPES = [
    "user-library-read",
    "playlist-read-private",
    "playlist-read-collaborative",
    "user-follow-read",
]


class SpotifyConfig(BaseModel):
    """Spotify sign-in (OAuth 2.0 Authorization Code with PKCE), sessions and tokens."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(
        "",
        description=(
            "Client ID of your app on developer.spotify.com. Empty: the first-run setup page "
            "(/auth/setup) asks for it and keeps it in the database."
        ),
    )
    redirect_uri: str = Field(
        "",
        description=(
            "Redirect URI registered with the Spotify app. Empty: <public_url>/auth/callback, "
            "or http://127.0.0.1:<port>/auth/callback (Spotify refuses 'localhost')."
        ),
    )
    authorize_url: str = Field(
        "https://accounts.spotify.com/authorize",
        description="The provider's authorization endpoint.",
    )
    token_url: str = Field(
        "https://accounts.spotify.com/api/token",
        description="The provider's token endpoint (PKCE: no client secret).",
    )
    api_base_url: str = Field(
        "https://api.spotify.com/v1",
        description="Base URL of the Web API; <api_base_url>/me names who signed in.",
    )
    revocation_url: str = Field(
        "",
        description=(
            "RFC 7009 token revocation endpoint, called when the owner disconnects. Spotify "
            "has none: leave empty and SoulSpot links to spotify.com/account/apps instead."
        ),
    )
    account_apps_url: str = Field(
        "https://www.spotify.com/account/apps/",
        description="Where people remove SoulSpot's access to their Spotify account.",
    )
    scopes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SCOPES),
        description="OAuth scopes asked for (least privilege: read library and playlists).",
    )
    owner: str = Field(
        "",
        description=(
            "Spotify user id of the owner. Empty: the first account that signs in becomes "
            "the owner; any other account is refused."
        ),
    )
    allowed_users: list[str] = Field(
        default_factory=list,
        description="Other Spotify user ids allowed to sign in (besides the owner).",
    )
    session_lifetime_hours: float = Field(
        720,
        gt=0,
        description="Absolute session lifetime: signed out this long after signing in.",
    )
    session_idle_minutes: float = Field(
        10080,
        gt=0,
        description="Idle timeout: a session unused this long ends (default 7 days).",
    )
    refresh_token_lifetime_days: int = Field(
        182,
        ge=1,
        description=(
            "Spotify refresh tokens expire this long after the first consent (about 6 "
            "months); the dashboard counts down to it."
        ),
    )
    reauthorise_warning_days: int = Field(
        14, ge=0, description="Warn this many days before re-authorisation is due."
    )
    token_refresh_leeway_seconds: int = Field(
        120,
        ge=0,
        le=1800,
        description="Refresh an access token this long before it expires.",
    )
    http_timeout_seconds: float = Field(
        10, gt=0, le=120, description="Timeout of each call to Spotify."
    )
    token_keys: list[SecretStr] = Field(
        default_factory=list,
        description=(
            "Fernet keys encrypting stored tokens, newest first (all decrypt, the first "
            "encrypts). Empty: a key is generated into <data_dir>/keys/spotify_token_keys "
            "(0600). Env: SOULSPOT__SPOTIFY__TOKEN_KEYS='[\"key\"]'."
        ),
    )

    @field_validator("redirect_uri", "revocation_url")
    @classmethod
    def _optional_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("authorize_url", "token_url", "api_base_url", "account_apps_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("token_keys")
    @classmethod
    def _keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        from cryptography.fernet import Fernet

        for item in value:
            try:
                Fernet(item.get_secret_value().encode())
            except (ValueError, TypeError):
                raise ValueError(
                    "each key must be a Fernet key (32 url-safe base64-encoded bytes); make "
                    "one with `soulspot secrets generate-key`"
                ) from None
        return value
