"""The HTTP service (``vip-workflow serve``): an entry-point adapter over the public API.

FastAPI + uvicorn, installed by the ``server`` extra; without it, importing this package
raises ``MissingExtraError`` naming the extra. Nothing in the library imports this package::

    from vip_workflow.adapters.server import create_app
    app = create_app("vip.yaml")          # an ASGI app: uvicorn.run(app)

Layout: ``settings`` (the ``server:`` section of ``vip.yaml``), ``tokens`` (API tokens,
hashes only), ``auth`` (tokens and OIDC JWTs into an ``Actor``), ``problems`` (RFC 9457
error documents), ``app`` (the factory), ``routes/`` (one module per resource).
"""

from __future__ import annotations

from vip_workflow._extras import require

require("fastapi", "the HTTP service (vip-workflow serve)")
require("uvicorn", "the HTTP service (vip-workflow serve)")

from vip_workflow.adapters.server.app import create_app, create_app_from_env  # noqa: E402
from vip_workflow.adapters.server.settings import OidcSettings, ServerSettings  # noqa: E402

__all__ = ["OidcSettings", "ServerSettings", "create_app", "create_app_from_env"]
