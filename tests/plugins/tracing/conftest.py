"""Fixtures for the tracing plugin: a real OTLP/HTTP receiver and apps that export to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from flask import Flask

from soulspot.testing import deep_merge
from support.otlp_receiver import OTLPReceiver


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as r:
        yield r


@pytest.fixture
def traced_app(make_app: Callable[..., Flask], receiver: OTLPReceiver) -> Callable[..., Flask]:
    """``traced_app(config={...})``: an app exporting its spans to ``receiver``."""

    def factory(config: Mapping[str, Any] | None = None, **kwargs: Any) -> Flask:
        base = {"plugins": {"tracing": {"exporter": "otlp-http", "endpoint": receiver.url}}}
        return make_app(deep_merge(base, dict(config or {})), **kwargs)

    return factory


def flush(app: Flask) -> None:
    """Export what the app has queued (the exporter runs in the background)."""
    from soulspot import api

    with app.app_context():
        api.hook(app).shutdown(app=app)
