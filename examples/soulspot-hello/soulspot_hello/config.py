"""The ``[plugins.hello]`` config section. The manifest names this model as a string
(``"soulspot_hello.config:HelloConfig"``) so pydantic is imported only when an app is built."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HelloConfig(BaseModel):
    # Unknown keys are errors (a typo must not be silently ignored).
    model_config = ConfigDict(extra="forbid")

    greeting: str = Field(
        "Hello", min_length=1, max_length=40, description="How the hello page greets you."
    )
    name: str = Field("world", min_length=1, max_length=40, description="Whom it greets.")
    interval_minutes: int = Field(
        60, ge=1, le=1440, description="How often the `hello.count` job runs (minutes)."
    )
