"""The only module that imports durable_rules: private hosts with unique, closable rulesets.

durable_rules keeps module-level state: ``durable.lang`` collects every ``ruleset(name)`` in a
global dict and registers it on one global host whose timer threads run forever, and a ruleset
name can be registered only once per process — re-running a notebook cell that defines a ruleset
fails. This module bypasses all of that:

* each :class:`DurableRuleset` lives on its **own** host (a subclass of ``durable.engine.Host``
  with the background dispatch threads switched off: rules here fire synchronously inside
  ``post``), never on ``durable.lang``'s global host;
* its name carries a uuid suffix, so two engines built from the same rule file never clash;
* ``close()`` (also on garbage collection, via ``weakref.finalize``) deletes the ruleset from
  the native engine and forgets the host.

Rules are given as durable_rules JSON conditions (``{"$gt": {"f0": 3}}``) plus a Python action.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vip_workflow.errors import ConfigError

__all__ = ["DurableRuleset", "available"]


def available() -> bool:
    """True when durable_rules can be imported."""
    try:
        import durable.engine  # noqa: F401
    except ImportError:
        return False
    return True


def _engine() -> Any:
    try:
        from durable import engine
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "the live trigger engine needs durable_rules: pip install durable-rules"
        ) from exc
    return engine


def _host_class() -> type:
    engine = _engine()

    class _QuietHost(engine.Host):  # type: ignore[misc, name-defined]
        """A host without the background dispatch/timer threads."""

        def _run(self) -> None:
            return None

    return _QuietHost


def _delete(host: Any, name: str) -> None:
    ruleset = host._ruleset_directory.pop(name, None)
    if ruleset is None:
        return
    if ruleset in host._ruleset_list:
        host._ruleset_list.remove(ruleset)
    import durable_rules_engine

    with contextlib.suppress(Exception):  # nothing more can be done at teardown
        durable_rules_engine.delete_ruleset(ruleset._handle)


class DurableRuleset:
    """One durable_rules ruleset on a private host.

    Args:
        prefix: readable start of the ruleset name (a uuid suffix is appended).
        rules: rule name → (durable_rules JSON condition on one event ``m``, action). The
            action receives the matched event as a plain dict.
    """

    def __init__(
        self,
        prefix: str,
        rules: Mapping[str, tuple[Mapping[str, Any], Callable[[dict[str, Any]], None]]],
    ) -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex}"
        self._host = _host_class()()
        definition = {
            rule: {"all": [{"m": dict(condition)}], "run": _action(callback)}
            for rule, (condition, callback) in rules.items()
        }
        self._host.register_rulesets({self.name: definition})
        self._ids = itertools.count(1)
        self._ruleset = self._host.get_ruleset(self.name)
        self._finalizer = weakref.finalize(self, _delete, self._host, self.name)
        exceptions = _engine()
        self._not_handled = exceptions.MessageNotHandledException

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def post(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Post events; matching rules' actions run before this returns.

        Each event gets a fresh ``id`` (durable_rules ignores an event whose id it has seen).
        """
        if self.closed:
            raise ConfigError(f"the durable_rules ruleset {self.name} is closed")
        if not events:
            return
        # durable_rules drops an event whose id it has seen ("observed"): number them
        batch = [{**e, "id": next(self._ids)} for e in events]
        with contextlib.suppress(self._not_handled):
            self._host.post_batch(self.name, batch)
        self._drain()

    def _drain(self) -> None:
        """Run every action still queued (a batch may leave some for the dispatch thread,
        which our hosts do not run)."""
        import durable_rules_engine

        errors: list[BaseException] = []

        def complete(error: BaseException | None, _state: object) -> None:
            if error:
                errors.append(error)

        ruleset = self._ruleset
        while True:
            result = durable_rules_engine.start_action(ruleset._handle)
            if not result:
                break
            ruleset._flush_actions(json.loads(result[0]), {"message": json.loads(result[1])},
                                   result[2], complete)
            if errors:
                raise errors[0]

    def pending(self) -> list[Any]:
        """Events the native engine still holds (none expected: each event is one-shot)."""
        pending: list[Any] = self._host.get_pending_events(self.name)  # durable: untyped
        return pending

    def close(self) -> None:
        """Delete the ruleset from the native engine (idempotent)."""
        self._finalizer()

    def __enter__(self) -> DurableRuleset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _action(callback: Callable[[dict[str, Any]], None]) -> Callable[[Any], None]:
    def run(c: Any) -> None:
        callback(dict(c.m._d))

    return run
