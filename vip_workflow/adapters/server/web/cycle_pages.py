"""Customers, the monthly cycle's dashboard and the rule books."""

from __future__ import annotations

from fastapi import APIRouter

from vip_workflow.adapters.server.web.deps import HtmlRoute

router = APIRouter(prefix="/web", route_class=HtmlRoute, include_in_schema=False)
