"""Run the benchmarks: ``python -m bench [NAME ...] [OPTIONS]``.

With no NAME every ``bench/bench_*.py`` module runs; ``python -m bench rules`` runs only
``bench_rules``. Arguments after the names (e.g. ``--n 100000``) go to each selected module's
``main(argv)``; a module whose ``main`` takes no argument is called without them.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

_PREFIX = "bench_"


def available() -> list[str]:
    """Short names of the bench modules, e.g. ``["processes", "rules"]``."""
    here = [str(Path(__file__).parent)]
    return sorted(
        info.name.removeprefix(_PREFIX)
        for info in pkgutil.iter_modules(here)
        if info.name.startswith(_PREFIX)
    )


def run(name: str, argv: list[str]) -> None:
    module = importlib.import_module(f"bench.{_PREFIX}{name}")
    entry = getattr(module, "main", None)
    if entry is None:
        raise SystemExit(f"bench.{_PREFIX}{name} has no main()")
    if inspect.signature(entry).parameters:
        entry(argv)
    else:
        entry()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    known = available()
    if args and args[0] in {"-h", "--help"}:
        print(__doc__)
        print("available:", ", ".join(known))
        return 0
    names: list[str] = []
    while args and not args[0].startswith("-"):
        name = args.pop(0).removeprefix(_PREFIX).removesuffix(".py")
        if name not in known:
            print(f"unknown benchmark {name!r}; available: {', '.join(known)}", file=sys.stderr)
            return 2
        names.append(name)
    for name in names or known:
        run(name, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
