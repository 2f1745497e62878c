"""The composition root: storage URL + notifier specs → a wired ``ProcessEngine``.

Only this module sees both the engine and the adapters::

    engine = bootstrap("sqlite:///vip.db", notifier="https://example.com/hook")
    store = open_store("sqlite:///vip.db")          # one storage stack:
    engine = bootstrap(store)                        # processes in store,
    cycle = store.cycle                              # the cycle's tables beside them
    dispatcher = build_dispatcher("sqlite:///vip.db", "https://example.com/hook")
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from vip_workflow.outbox import Backoff, Dispatcher
from vip_workflow.ports import InstanceStore
from vip_workflow.registry import open_notifier, open_store

__all__ = ["bootstrap", "build_dispatcher"]


def bootstrap(storage: str | InstanceStore = "memory://", *, notifier: Any = None,
              clock: Callable[[], datetime] | None = None,
              store_options: dict[str, Any] | None = None,
              **engine_kwargs: Any) -> Any:
    """A ``ProcessEngine`` on the store at ``storage`` (a URL, or a store already open — e.g.
    the one whose ``cycle`` a workspace uses, so both share one database and transaction)
    that sends through ``notifier`` (a URL, config mapping, list, or notifier; default: the
    engine's in-memory notifier)."""
    from vip_workflow.processes.engine import ProcessEngine

    store = (open_store(storage, **(store_options or {})) if isinstance(storage, str)
             else storage)
    kwargs: dict[str, Any] = dict(engine_kwargs)
    if notifier is not None:
        kwargs["notifier"] = open_notifier(notifier)
    if clock is not None:
        kwargs["clock"] = clock
    return ProcessEngine(store=store, **kwargs)


def build_dispatcher(storage: str | Any, notifier: Any, *, max_attempts: int = 8,
                     backoff: Backoff | None = None,
                     clock: Callable[[], datetime] | None = None, **options: Any) -> Dispatcher:
    """A ``Dispatcher`` for the outbox of ``storage`` (a URL or a store) through ``notifier``."""
    store = open_store(storage) if isinstance(storage, str) else storage
    return Dispatcher(store, open_notifier(notifier), max_attempts=max_attempts,
                      backoff=backoff, clock=clock, **options)
