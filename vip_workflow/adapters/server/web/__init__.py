"""The workbench: server-rendered pages for account managers, approvers and analysts.

Jinja2 templates, gettext catalogs (Simplified Chinese by default, English) and browser
files (htmx, Mermaid; Apache ECharts with the period dashboard in ``vip_workflow.reporting``,
served at ``/web/static/charts``) vendored in the package: nothing is fetched from the
internet at run time. Sign-in with an API token makes a session cookie; every form carries a
CSRF token. The pages act through the same engine and stores as ``/api/v1``: the engine
decides what the signed-in user may do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vip_workflow.reporting import STATIC_DIR as REPORTING_STATIC

__all__ = ["CHARTS_DIR", "STATIC_DIR", "install"]

STATIC_DIR = Path(__file__).parent / "static"
#: The dashboard's browser files (ECharts, dashboard.js), shared with the static report.
CHARTS_DIR = REPORTING_STATIC


def install(app: Any) -> None:
    """Serve the workbench on ``app`` (at ``/web``, and ``/`` leading there)."""
    from fastapi.staticfiles import StaticFiles

    from vip_workflow.adapters.server.web import (
        auth_pages,
        book_pages,
        cycle_pages,
        work_pages,
    )
    from vip_workflow.adapters.server.web.deps import Web
    from vip_workflow.adapters.server.web.session import signer_for

    app.state.web = Web(signer=signer_for(app.state.service.settings))
    app.mount("/web/static/charts", StaticFiles(directory=CHARTS_DIR), name="web-charts")
    app.mount("/web/static", StaticFiles(directory=STATIC_DIR), name="web-static")
    for module in (auth_pages, work_pages, cycle_pages, book_pages):
        app.include_router(module.router)
