"""Sample data for demos, tests, notebooks and benchmarks: seeded, reproducible, synthetic.

- ``sample_portfolio`` / ``load_sample_portfolio``: group customers (the bundled 2 000 rows);
- ``sample_individuals``: individual VIP subscribers; ``sample_organisation``: account managers;
- ``sample_history`` / ``sample_kpi_portfolio``: monthly snapshots and KPI data;
- ``monthly_portfolios``: one portfolio per month for the monthly cycle.
"""

from __future__ import annotations

from vip_workflow.samples.history import sample_history, sample_kpi_portfolio
from vip_workflow.samples.monthly import monthly_portfolios
from vip_workflow.samples.portfolio import (
    load_sample_portfolio,
    sample_individuals,
    sample_organisation,
    sample_portfolio,
    write_sample_portfolio,
)

__all__ = [
    "load_sample_portfolio",
    "monthly_portfolios",
    "sample_history",
    "sample_individuals",
    "sample_kpi_portfolio",
    "sample_organisation",
    "sample_portfolio",
    "write_sample_portfolio",
]
