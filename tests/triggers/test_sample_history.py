"""The synthetic monthly history and KPI portfolio generators."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from vip_workflow.rules.triggers.snapshots import SNAPSHOT_COLUMNS, MonthlySnapshot, history_frame
from vip_workflow.samples import sample_history, sample_kpi_portfolio


def test_the_same_seed_gives_the_same_history() -> None:
    """Reproducible, one row per customer and month, every snapshot column."""
    a = sample_history(50, 6, seed=9)
    assert a.equals(sample_history(50, 6, seed=9))
    assert not a.equals(sample_history(50, 6, seed=10))
    assert a.height == 300 and a.columns == list(SNAPSHOT_COLUMNS)
    assert a["period"].min() == date(2025, 1, 1) and a["period"].n_unique() == 6


def test_missing_sets_a_share_of_numeric_cells_to_null() -> None:
    """About the share asked for."""
    frame = sample_history(200, 12, seed=1, missing=0.1)
    share = frame["revenue"].null_count() / frame.height
    assert 0.05 < share < 0.15
    assert frame["customer_id"].null_count() == 0


def test_snapshots_validate_and_become_frames() -> None:
    """MonthlySnapshot reads months from text and refuses negative amounts."""
    snapshot = MonthlySnapshot(customer_id="c", period="2026-10", revenue=5)
    assert snapshot.period == date(2026, 10, 1)
    frame = history_frame([snapshot, {"customer_id": "c", "period": "2026-11"}])
    assert frame.schema["period"] == pl.Date and frame.height == 2
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        MonthlySnapshot(customer_id="c", period="2026-10", revenue=-1)


def test_the_kpi_portfolio_has_groups_and_individuals() -> None:
    """Both kinds, A/B/C segments for groups."""
    frame = sample_kpi_portfolio(1_000, seed=2)
    assert set(frame["kind"]) == {"group", "individual"}
    assert set(frame.filter(pl.col("kind") == "group")["segment"]) == {"A", "B", "C"}
