"""Reports: the period dashboard (tables, ECharts options, templates) and the monthly cycle's
self-contained ``report.html``; the workbench renders its period page from the same parts."""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR"]

#: The dashboard's browser files: Apache ECharts (vendored), dashboard.js and report.css.
STATIC_DIR = Path(__file__).parent / "static"
