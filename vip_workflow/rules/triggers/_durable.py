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

durable_rules' native parser crashes the process (a segmentation fault) on a number written
in exponent form such as ``1e-05`` or ``1e+16`` — which is how Python writes floats under
0.0001 or from 10**16 on. So no number reaches it in that form: each fact key's thresholds are
scaled by one power of two (exact: the order and equality of every fact and threshold are
kept) until the smallest lies in [1, 2) whenever any would be written in exponent form, and a
fact whose scaled value would be is replaced by one that compares the same with every
threshold of its key (a tiny non-zero fact by ±0.0001, a huge one by ±10**15).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vip_workflow.errors import ConfigError

__all__ = ["DurableRuleset", "available", "plain_number"]

#: magnitudes of thresholds written without an exponent, with room for the stand-ins below
_LOW, _HIGH = 1e-3, 1e15
#: what a tiny non-zero (huge) fact is replaced by: beyond every threshold of its key
_TINY, _HUGE = 1e-4, 1e15


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
        found: dict[str, list[float]] = {}
        for condition, _ in rules.values():
            _thresholds(condition, found)
        self._scales = {key: _scale(key, values) for key, values in found.items()}
        self._posted: dict[int, Mapping[str, Any]] = {}
        definition = {
            rule: {"all": [{"m": _rewrite(condition, self._scales)}],
                   "run": _action(callback, self._posted)}
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
        batch = []
        for event in events:
            number = next(self._ids)
            self._posted[number] = event
            batch.append({**{k: self._fact(k, v) for k, v in event.items()}, "id": number})
        try:
            with contextlib.suppress(self._not_handled):
                self._host.post_batch(self.name, batch)
            self._drain()
        finally:
            self._posted.clear()

    def _fact(self, key: str, value: Any) -> Any:
        """A fact as durable_rules may read it: scaled as its key's thresholds were, and never
        in exponent form."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        scale = self._scales.get(key, 1.0)
        if isinstance(value, int) and scale == 1.0 and abs(value) < _HUGE:
            return value
        return plain_number(float(value) * scale)

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


def _action(callback: Callable[[dict[str, Any]], None],
            posted: Mapping[int, Mapping[str, Any]]) -> Callable[[Any], None]:
    def run(c: Any) -> None:
        event = dict(c.m._d)
        original = posted.get(event.get("id", -1))
        callback({**original, "id": event["id"]} if original is not None else event)

    return run


def plain_number(value: float) -> float:
    """``value`` if Python writes it without an exponent, else the stand-in comparing the same
    with every threshold of magnitude in [0.001, 10**15) (and with 0)."""
    if value == 0 or _TINY <= abs(value) < _HUGE:
        return value
    if math.isnan(value):
        return value
    return math.copysign(_TINY if abs(value) < _TINY else _HUGE, value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _thresholds(condition: Mapping[str, Any], found: dict[str, list[float]]) -> None:
    """Every number a condition compares a fact key with, by key."""
    for key, value in condition.items():
        if key in ("$and", "$or"):
            for item in value:
                _thresholds(item, found)
        elif key.startswith("$") and isinstance(value, Mapping):
            for fact, threshold in value.items():
                if _is_number(threshold):
                    found.setdefault(fact, []).append(float(threshold))
        elif _is_number(value):
            found.setdefault(key, []).append(float(value))


def _scale(key: str, thresholds: list[float]) -> float:
    """1, or the power of two bringing the key's thresholds out of exponent form."""
    sizes = [abs(t) for t in thresholds if t != 0 and math.isfinite(t)]
    if not sizes or (min(sizes) >= _LOW and max(sizes) < _HIGH):
        return 1.0
    _, exponent = math.frexp(min(sizes))  # min = m * 2**exponent, 0.5 <= m < 1
    scale = math.ldexp(1.0, 1 - exponent)  # min * scale in [1, 2)
    if max(sizes) * scale >= _HIGH:
        raise ConfigError(f"the thresholds of one condition ({key}: {min(sizes)!r} to "
                          f"{max(sizes)!r}) span more than 15 orders of magnitude; the live "
                          "engine (durable_rules) cannot hold them")
    return scale


def _rewrite(condition: Mapping[str, Any], scales: Mapping[str, float]) -> dict[str, Any]:
    """The condition with each threshold scaled as its key's facts will be."""
    def number(key: str, value: Any) -> Any:
        if not _is_number(value) or scales.get(key, 1.0) == 1.0:
            return value
        return float(value) * scales[key]

    rewritten: dict[str, Any] = {}
    for key, value in condition.items():
        if key in ("$and", "$or"):
            rewritten[key] = [_rewrite(item, scales) for item in value]
        elif key.startswith("$") and isinstance(value, Mapping):
            rewritten[key] = {fact: number(fact, t) for fact, t in value.items()}
        else:
            rewritten[key] = number(key, value)
    return rewritten
