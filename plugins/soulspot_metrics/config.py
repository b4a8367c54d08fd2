"""The ``[plugins.metrics]`` section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

#: Fewest characters of a scrape token (``openssl rand -hex 16`` makes 32).
MIN_TOKEN_LENGTH = 16


class MetricsConfig(BaseModel):
    """Who may scrape ``/metrics``."""

    model_config = ConfigDict(extra="forbid")

    token: SecretStr | None = Field(
        None,
        description=(
            "Bearer token a Prometheus on another machine sends (Authorization: Bearer "
            "<token>) to scrape /metrics. Requests from this machine (loopback) need none. "
            "Unset: /metrics answers only on loopback. Prefer the env variable "
            "SOULSPOT__METRICS__TOKEN_FILE (a file holding it) over writing it here. At "
            "least 16 characters (openssl rand -hex 16); 10 wrong tokens in a minute from "
            "one address get 429 for the rest of the minute."
        ),
    )
    latency_buckets: list[float] = Field(
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
        min_length=1,
        description="Upper bounds (seconds) of the request latency histogram's buckets.",
    )

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"a token of at least {MIN_TOKEN_LENGTH} characters (openssl rand -hex 16), "
                "so that it cannot be guessed"
            )
        return value
