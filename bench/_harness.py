"""Timing and reporting helpers shared by the bench modules."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Measurement:
    """One table row: ``seconds`` to process ``records`` customers (None: not measured)."""

    engine: str
    records: int | None = None
    seconds: float | None = None
    mismatches: int | None = None
    note: str = ""

    @property
    def rate(self) -> float | None:
        if not self.records or not self.seconds:
            return None
        return self.records / self.seconds


def best_of(run: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Run ``repeats`` times; return the fastest wall time and the last result."""
    best = float("inf")
    result: Any = None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def once(run: Callable[[], T]) -> tuple[float, T]:
    return best_of(run, 1)


def latencies_us(call: Callable[[Any], object], items: Sequence[Any]) -> list[float]:
    """Time each call separately (perf_counter_ns), in microseconds."""
    clock = time.perf_counter_ns
    out = []
    for item in items:
        start = clock()
        call(item)
        out.append((clock() - start) / 1_000)
    return out


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def count_mismatches(got: Sequence[Any], expected: Sequence[Any]) -> int:
    if len(got) != len(expected):
        raise ValueError(f"length differs: {len(got)} vs {len(expected)}")
    return sum(1 for a, b in zip(got, expected, strict=True) if a != b)


def machine() -> str:
    cpu = _cpu_model()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
        f"{f' ({cpu})' if cpu else ''}, Python {platform.python_version()}"
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def fmt_int(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if value < 1 else f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}×" if value >= 100 else f"{value:.3g}×"
