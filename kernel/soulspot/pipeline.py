"""The request pipeline the kernel owns: every plugin's request phases in one documented
order, and WSGI middleware around the app in an explicit order (docs/architecture.md, "A
request").

Flask gets exactly one ``before_request``, one ``after_request`` and one ``teardown_request``
function from here; they run the phases:

- before-steps by ``(stage, name)``: identify → measure → guard → the kernel's gate; the
  first that answers (or raises) refuses the request and the rest do not run;
- after-steps, all of them, in reverse order, on whatever answer the request got (the
  view's, a refusal, an error page): measurement sees every answer;
- teardown-steps in reverse order, with the exception the request ended in.

With the logger ``soulspot.pipeline`` at DEBUG, every step is logged (``phase``, ``step``):
a way to see the order on a running app, and what the behaviour test reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, cast

from flask import Flask, Response, g, request

from .context import is_probe
from .types import Middleware, RequestPhase

log = logging.getLogger("soulspot.pipeline")

Step = Callable[..., Any]


def ordered(phases: Iterable[RequestPhase]) -> list[RequestPhase]:
    """Phases in the order their before-steps run; two phases may not share a name."""
    result = sorted(phases, key=lambda p: (p.stage, p.name))
    names = [p.name for p in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"request phases with the same name: {', '.join(duplicates)}")
    return result


class _Chain:
    """The steps of one kind of request (ordinary, probe), in the order they run."""

    def __init__(self, phases: list[RequestPhase]) -> None:
        self.befores = tuple((p.name, p.before) for p in phases if p.before is not None)
        self.afters = tuple((p.name, p.after) for p in reversed(phases) if p.after is not None)
        self.teardowns = tuple(
            (p.name, p.teardown) for p in reversed(phases) if p.teardown is not None
        )


def install(app: Flask, phases: Iterable[RequestPhase]) -> list[RequestPhase]:
    """Register the phases with Flask (once per app); returns them in order."""
    chain = ordered(phases)
    ordinary = _Chain(chain)
    probe = _Chain([p for p in chain if p.probes])
    views = app.view_functions

    def chain_of_request() -> _Chain:
        # The view is looked up once per request and kept for every phase
        # (soulspot.context.request_view reads it).
        flask_g = g._get_current_object()
        found = flask_g.__dict__.get(CHAIN)
        if found is None:
            rule = request.url_rule
            view = views.get(rule.endpoint) if rule is not None else None
            flask_g.soulspot_view = view
            found = probe if is_probe(view) else ordinary
            flask_g.__dict__[CHAIN] = found
        return cast(_Chain, found)

    def before() -> Any:
        steps = chain_of_request().befores
        if log.isEnabledFor(logging.DEBUG):
            return _traced_before(steps)
        for _name, step in steps:
            answer = step()
            if answer is not None:
                return answer
        return None

    def after(response: Response) -> Response:
        trace = log.isEnabledFor(logging.DEBUG)
        for name, step in chain_of_request().afters:
            if trace:
                log.debug("phase", extra={"phase": name, "step": "after"})
            try:
                response = step(response)
            except Exception:  # one phase's failure must not take the later ones' headers,
                # access line and count from the answer (and Flask's 500 would meet it again)
                log.exception("request phase after-step failed", extra={"phase": name})
        return response

    def teardown(exc: BaseException | None) -> None:
        trace = log.isEnabledFor(logging.DEBUG)
        steps = chain_of_request().teardowns
        # flask.g lives as long as the app context, which a test may hold across requests
        g.pop(CHAIN, None)
        g.pop("soulspot_view", None)
        for name, step in steps:
            if trace:
                log.debug("phase", extra={"phase": name, "step": "teardown"})
            try:
                step(exc)
            except Exception:  # one phase's clean-up must not skip the others'
                log.exception("request phase teardown failed", extra={"phase": name})

    app.before_request(before)
    app.after_request(after)
    app.teardown_request(teardown)
    return chain


#: Where the chain of the current request is kept in ``flask.g``.
CHAIN = "soulspot_chain"


def _traced_before(befores: tuple[tuple[str, Step], ...]) -> Any:
    for name, step in befores:
        log.debug("phase", extra={"phase": name, "step": "before"})
        try:
            answer = step()
        except BaseException:
            log.debug("phase", extra={"phase": name, "step": "refused"})
            raise
        if answer is not None:
            log.debug("phase", extra={"phase": name, "step": "refused"})
            return answer
    log.debug("phase", extra={"phase": request.endpoint or "-", "step": "view"})
    return None


def wrap(app: Flask, middleware: Iterable[Middleware]) -> list[Middleware]:
    """Wrap ``app.wsgi_app``: the lowest ``order`` ends up outermost."""
    chain = sorted(middleware, key=lambda m: (m.order, m.name))
    for item in reversed(chain):
        app.wsgi_app = item.wrap(app.wsgi_app)  # type: ignore[method-assign]
    return chain
