"""Shared helpers: build small trigger books and histories, run both paths."""

from __future__ import annotations

from typing import Any

import polars as pl
import yaml

import vip_workflow.rules.tiers.book as rules_book
from vip_workflow.rules.triggers import TriggerBook
from vip_workflow.rules.triggers.snapshots import SNAPSHOT_COLUMNS


def book_of(*conditions: dict[str, Any], emit: str = "every",
            family: str = "risk") -> TriggerBook:
    """A book with one trigger per condition, ids t0, t1 …"""
    data = {
        "kind": "triggers",
        "name": "test",
        "triggers": [
            {"id": f"t{i}", "family": family, "action": "act", "emit": emit, "when": c}
            for i, c in enumerate(conditions)
        ],
    }
    return rules_book.loads_rules(yaml.safe_dump(data), name="test.yaml")


def history(values: dict[str, list[Any]], *, customer: str = "c1", start: int = 1,
            year: int = 2026, months: list[int] | None = None) -> pl.DataFrame:
    """One customer's consecutive months (or the given month numbers) with these columns."""
    length = len(next(iter(values.values())))
    numbers = months or list(range(start, start + length))
    periods = [f"{year + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}" for m in numbers]
    data: dict[str, Any] = {"customer_id": [customer] * length, "period": periods}
    data.update(values)
    schema = {"customer_id": pl.String, "period": pl.String}
    schema.update({k: SNAPSHOT_COLUMNS.get(k, pl.Float64()) for k in values})
    return pl.DataFrame(data, schema=schema)


def fired(book: TriggerBook, frame: pl.DataFrame) -> list[tuple[str, str, str]]:
    """(customer, YYYY-MM, trigger) of the batch signals — after checking live agrees."""
    batch = book.scan(frame)
    live = book.scan_live(frame)
    assert_same(batch, live)
    return [(c, f"{p:%Y-%m}", t) for c, p, t in
            batch.select("customer_id", "period", "trigger").iter_rows()]


def assert_same(batch: pl.DataFrame, live: pl.DataFrame) -> None:
    assert batch.schema == live.schema, (batch.schema, live.schema)
    assert batch.to_dicts() == live.to_dicts()


def evidence(frame: pl.DataFrame, row: int = 0) -> dict[str, float | None]:
    return {item["name"]: item["value"] for item in frame["evidence"][row]}


def spend_triggers(version: str, effective: str | None, value: float = 100) -> TriggerBook:
    """A one-trigger book (risk.high_spend: revenue > value) of the given version and date."""
    data: dict[str, Any] = {
        "kind": "triggers", "name": "spend", "version": version,
        "triggers": [{"id": "risk.high_spend", "family": "risk", "action": "call",
                      "when": {"type": "threshold", "field": "revenue", "op": ">",
                               "value": value}}]}
    if effective:
        data["effective"] = effective
    return rules_book.load_rules(data)

