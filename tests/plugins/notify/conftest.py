"""Fixtures of the notify plugin's tests: a webhook receiver and apps that notify it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from flask import Flask

from soulspot.testing import deep_merge
from support.webhook_receiver import WebhookReceiver


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def notify_app(make_app: Callable[..., Flask], hook: WebhookReceiver) -> Callable[..., Flask]:
    def factory(notify: Mapping[str, Any] | None = None, **kwargs: Any) -> Flask:
        config = deep_merge({"plugins": {"notify": {"urls": [hook.url]}}}, kwargs.pop("config", {}))
        config = deep_merge(config, {"plugins": {"notify": dict(notify or {})}})
        return make_app(config, **kwargs)

    return factory


def drain(app: Flask) -> None:
    from soulspot import api

    with app.app_context():
        api.hook(app).shutdown(app=app)
