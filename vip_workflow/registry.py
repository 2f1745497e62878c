"""Adapter lookup: storage URLs and notifier names → adapters, through entry points.

The built-in adapters are declared in vip_workflow's own ``pyproject.toml`` under the
entry-point groups ``vip_workflow.storage`` and ``vip_workflow.notifiers``; another package adds
one the same way::

    [project.entry-points."vip_workflow.storage"]
    mongodb = "my_package.store:MongoInstanceStore"

Entry points are imported on first use only. ``register_storage`` / ``register_notifier`` add
adapters at run time (notebooks, tests). Every adapter is checked against its Protocol
(``InstanceStore`` / ``Notifier``) and any error names it.

A storage adapter may also carry the monthly cycle's store as its ``cycle`` attribute (a
``CycleStore`` on the same database): ``open_cycle_store(url)`` gives it, and its unit of work
writes a period's results and process starts in one transaction. Every built-in store has it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from vip_workflow.errors import AdapterNotFoundError, ConfigError
from vip_workflow.ports import CycleStore, InstanceStore, Notifier

__all__ = [
    "NOTIFIER_GROUP",
    "STORAGE_GROUP",
    "check_adapter",
    "notifier_names",
    "open_cycle_store",
    "open_notifier",
    "open_store",
    "register_notifier",
    "register_storage",
    "storage_names",
]

STORAGE_GROUP = "vip_workflow.storage"
NOTIFIER_GROUP = "vip_workflow.notifiers"

#: What to install for a built-in adapter whose driver is missing.
EXTRAS = {
    "postgresql": "pip install 'psycopg[binary]'",
    "webhook": "pip install 'vip_workflow[webhook]'",
    "amqp": "pip install 'vip_workflow[amqp]'",
    "nats": "pip install 'vip_workflow[nats]'",
    "chat": "pip install 'vip_workflow[chat]'",
}

#: URL schemes that name a notifier other than themselves.
NOTIFIER_SCHEMES = {
    "http": "webhook", "https": "webhook", "smtp": "email", "smtps": "email",
    "amqps": "amqp", "tls": "nats", "wecombot": "chat", "dingtalk": "chat", "feishu": "chat",
    "lark": "chat", "slack": "chat", "json": "chat", "jsons": "chat", "form": "chat",
    "forms": "chat",
}
#: URL schemes that name a storage adapter other than themselves.
STORAGE_SCHEMES = {"postgres": "postgresql"}

_PROTOCOLS: dict[str, type] = {STORAGE_GROUP: InstanceStore, NOTIFIER_GROUP: Notifier}
_registered: dict[str, dict[str, Callable[..., Any]]] = {STORAGE_GROUP: {}, NOTIFIER_GROUP: {}}


# ----------------------------------------------------------------- checks


def check_adapter(adapter: Any, protocol: type, *, name: str = "") -> None:
    """Raise ``ConfigError`` naming ``adapter`` when it lacks a method of ``protocol`` or a
    method does not accept the protocol's parameters."""
    label = name or getattr(adapter, "__qualname__", None) or type(adapter).__qualname__
    problems = []
    for method in _protocol_methods(protocol):
        own = getattr(adapter, method, None)
        if own is None or not callable(own):
            problems.append(f"has no method {method}()")
            continue
        wanted = inspect.signature(getattr(protocol, method))
        try:
            got = inspect.signature(own)
        except (TypeError, ValueError):
            continue
        accepted = set(got.parameters)
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in got.parameters.values()):
            continue
        missing = [p for p in wanted.parameters if p != "self" and p not in accepted]
        if missing:
            problems.append(f"{method}() does not take {', '.join(missing)}")
    if problems:
        raise ConfigError(f"adapter {label} does not fit the {protocol.__name__} protocol: "
                          + "; ".join(problems))


def _protocol_methods(protocol: type) -> list[str]:
    return [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]


# ----------------------------------------------------------------- registration


def register_storage(name: str, factory: Callable[..., Any], *, check: bool = True) -> None:
    """Make ``open_store("<name>://…")`` use ``factory(url, **kwargs)`` (or ``factory()``)."""
    _register(STORAGE_GROUP, name, factory, check)


def register_notifier(name: str, factory: Callable[..., Any], *, check: bool = True) -> None:
    """Make ``open_notifier("<name>://…")`` / ``{"type": name, …}`` use ``factory``."""
    _register(NOTIFIER_GROUP, name, factory, check)


def _register(group: str, name: str, factory: Callable[..., Any], check: bool) -> None:
    if not callable(factory):
        raise ConfigError(f"the {group} adapter {name!r} is not callable: {factory!r}")
    if check and inspect.isclass(factory):
        check_adapter(factory, _PROTOCOLS[group], name=f"{name!r} ({factory.__qualname__})")
    _registered[group][name.lower()] = factory


def _entry_points(group: str) -> dict[str, Any]:
    return {ep.name.lower(): ep for ep in entry_points(group=group)}


def storage_names() -> list[str]:
    """Names of the storage adapters known (registered and installed)."""
    return sorted(set(_registered[STORAGE_GROUP]) | set(_entry_points(STORAGE_GROUP)))


def notifier_names() -> list[str]:
    """Names of the notifier adapters known (registered and installed)."""
    return sorted(set(_registered[NOTIFIER_GROUP]) | set(_entry_points(NOTIFIER_GROUP)))


def _lookup(group: str, name: str) -> Callable[..., Any]:
    name = name.lower()
    factory = _registered[group].get(name)
    if factory is not None:
        return factory
    points = _entry_points(group)
    known = sorted(set(_registered[group]) | set(points))
    if name not in points:
        hint = f"known: {', '.join(known) or 'none'}"
        if name in EXTRAS:
            hint += f"; to add it: {EXTRAS[name]}"
        hint += (" (an installed plugin registers under the entry-point group "
                 f"{group!r}; after installing vip_workflow from source, re-run the install)")
        raise AdapterNotFoundError(name, group, hint)
    try:
        factory = points[name].load()
    except ImportError as exc:
        hint = EXTRAS.get(name, f"install the package that provides {points[name].value}")
        raise AdapterNotFoundError(name, group, f"it cannot be imported ({exc}); {hint}") from exc
    if inspect.isclass(factory):
        check_adapter(factory, _PROTOCOLS[group], name=f"{name!r} ({points[name].value})")
    _registered[group][name] = factory
    loaded: Callable[..., Any] = factory
    return loaded


def _takes_positional(factory: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               for p in parameters)


def _checked(adapter: Any, group: str, name: str) -> Any:
    if not isinstance(adapter, _PROTOCOLS[group]):
        check_adapter(adapter, _PROTOCOLS[group], name=repr(name))
    return adapter


# ----------------------------------------------------------------- opening


def scheme_of(url: str) -> str:
    """The adapter name a URL selects: its scheme without a ``+driver`` part."""
    if "://" not in url and ":" not in url:
        return url.lower()
    scheme = url.split(":", 1)[0].lower()
    return scheme.split("+", 1)[0]


def open_store(url: str, **kwargs: Any) -> InstanceStore:
    """The storage adapter for ``url``: ``memory://``, ``sqlite:///vip.db``,
    ``postgresql+psycopg://user@host/db`` or a plugin's scheme; ``kwargs`` go to it."""
    name = scheme_of(url)
    name = STORAGE_SCHEMES.get(name, name)
    factory = _lookup(STORAGE_GROUP, name)
    store = factory(url, **kwargs) if _takes_positional(factory) else factory(**kwargs)
    checked: InstanceStore = _checked(store, STORAGE_GROUP, name)
    return checked


def open_cycle_store(url: str, **kwargs: Any) -> CycleStore:
    """The monthly cycle's store for ``url``: the ``cycle`` of ``open_store(url, **kwargs)``,
    so it shares that store's database, engine and schema (made or checked by the Alembic
    migrations). ``ConfigError`` names an adapter that has none."""
    store = open_store(url, **kwargs)
    cycle = getattr(store, "cycle", None)
    if cycle is None:
        raise ConfigError(f"the storage adapter {scheme_of(url)!r} "
                          f"({type(store).__qualname__}) has no cycle store (.cycle)")
    if not isinstance(cycle, CycleStore):
        check_adapter(cycle, CycleStore, name=f"{type(store).__qualname__}.cycle")
    found: CycleStore = cycle
    return found


def open_notifier(spec: str | Mapping[str, Any] | Iterable[Any] | Notifier) -> Notifier:
    """A notifier from a URL, a config mapping (``{"type": "webhook", "url": …}``), a list of
    those (every notice goes to each), or a notifier object (returned as is).

    URLs: ``log://``, ``memory://``, ``https://host/hook`` (webhook),
    ``smtp://user:pass@host:587?from=a@x&to=b@y&starttls=true`` (e-mail),
    ``amqp://guest:guest@host:5672/%2F`` (RabbitMQ), ``nats://host:4222`` (JetStream),
    ``wecombot://KEY``, ``dingtalk://TOKEN/``, ``feishu://TOKEN``, ``slack://…`` (chat).
    """
    if isinstance(spec, str):
        return _notifier_from_url(spec)
    if isinstance(spec, Mapping):
        options = dict(spec)
        kind = options.pop("type", None)
        if not kind:
            raise ConfigError(f"a notifier config needs a 'type' (one of {notifier_names()})")
        factory = _lookup(NOTIFIER_GROUP, str(kind))
        try:
            made: Notifier = _checked(factory(**options), NOTIFIER_GROUP, str(kind))
            return made
        except TypeError as exc:
            raise ConfigError(f"notifier {kind!r}: {exc}") from exc
    if isinstance(spec, Notifier):
        return spec
    notifiers = [open_notifier(item) for item in spec]
    if len(notifiers) == 1:
        return notifiers[0]
    from vip_workflow.outbox import FanoutNotifier

    return FanoutNotifier(notifiers)


def _notifier_from_url(url: str) -> Notifier:
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    name = scheme.split("+", 1)[0]
    if name == "webhook":  # webhook+https://host/path
        url = url.split("+", 1)[1]
    name = NOTIFIER_SCHEMES.get(name, name)
    factory = _lookup(NOTIFIER_GROUP, name)
    from_url = getattr(factory, "from_url", None)
    if from_url is not None:
        notifier = from_url(url)
    elif name in {"log", "memory"} or not _takes_positional(factory):
        notifier = factory()
    else:
        notifier = factory(url)
    checked: Notifier = _checked(notifier, NOTIFIER_GROUP, name)
    return checked


def url_options(url: str) -> tuple[Any, dict[str, str]]:
    """``urlsplit(url)`` and its query as a dict (for adapters' ``from_url``)."""
    parts = urlsplit(url)
    return parts, {k: unquote(v) for k, v in parse_qsl(parts.query)}
