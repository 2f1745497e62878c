"""``vip-workflow serve`` and ``vip-workflow token …``: the HTTP service and its API tokens.

Mounted by the main CLI; needs the ``server`` extra (``MissingExtraError`` says so).
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import vip_workflow as vw
from vip_workflow.cli.common import fail, print_problems

if TYPE_CHECKING:
    from vip_workflow.adapters.server.tokens import TokenStore

__all__ = ["serve_command", "token_app"]

WorkspaceOption = Annotated[Path, typer.Option(
    "--workspace", "-w", envvar="VIP_WORKFLOW_WORKSPACE",
    help="The workspace's vip.yaml (storage, rules, server settings).")]

token_app = typer.Typer(no_args_is_help=True,
                        help="API tokens of the HTTP service: create, list, revoke.")


def _server_module() -> Any:
    try:
        import vip_workflow.adapters.server as server
    except vw.MissingExtraError as exc:
        fail(str(exc))
    return server


def _workspace(path: Path) -> vw.Workspace:
    if not path.exists():
        fail(f"{path}: no such workspace file (give --workspace PATH/vip.yaml)", 2)
    try:
        return vw.Workspace.from_file(path)
    except vw.RuleFileError as exc:
        print_problems(exc)
        raise typer.Exit(1) from None
    except vw.VipWorkflowError as exc:
        fail(str(exc))


def serve_command(
    workspace: WorkspaceOption = Path("vip.yaml"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve the workspace over HTTP (FastAPI + uvicorn; OpenAPI at /openapi.json)."""
    _server_module()
    _workspace(workspace)  # fail here, readably, before any worker starts
    import uvicorn

    os.environ["VIP_WORKFLOW_WORKSPACE"] = str(workspace.resolve())
    # the workers share one key for the workbench's cookies unless vip.yaml names one
    os.environ.setdefault("VIP_WORKFLOW_SESSION_SECRET", secrets.token_urlsafe(32))
    uvicorn.run("vip_workflow.adapters.server:create_app_from_env", factory=True, host=host,
                port=port, workers=workers, log_level=log_level)


def _tokens(workspace: Path) -> TokenStore:
    server = _server_module()
    store: TokenStore = server.app.open_tokens(_workspace(workspace))
    return store


def _expiry(text: str | None) -> datetime | None:
    """``30d``, ``12h``, ``90m`` from now, or an ISO date/time."""
    if text is None:
        return None
    match = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if match:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match[2]]
        return datetime.now(UTC) + timedelta(**{unit: int(match[1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--expires {text!r}: give 30d, 12h, 90m or a date such as 2026-12-31", 2)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@token_app.command(name="create")
def token_create(
    user: Annotated[str, typer.Option(help="The user the token acts as.")],
    roles: Annotated[str, typer.Option(help="Comma-separated roles, e.g. "
                                       "account_manager,industry_manager.")] = "",
    expires: Annotated[str | None, typer.Option(help="30d, 12h, 90m or a date.")] = None,
    workspace: WorkspaceOption = Path("vip.yaml"),
) -> None:
    """Make a token; it is printed once, alone on the last line (only its hash is kept)."""
    store = _tokens(workspace)
    role_list = [r.strip() for r in roles.split(",") if r.strip()]
    info, token = store.create(user, role_list, expires_at=_expiry(expires))
    typer.echo(f"token {info.id} for {info.user} (roles: {', '.join(info.roles) or '-'}; "
               f"expires: {info.expires_at or 'never'}). Keep it now: it is not shown again.")
    typer.echo(token)


@token_app.command(name="list")
def token_list(workspace: WorkspaceOption = Path("vip.yaml")) -> None:
    """Every token's id, user, roles and state (never the token)."""
    now = datetime.now(UTC)
    for info in _tokens(workspace).list():
        state = ("revoked" if info.revoked_at else "live" if info.is_live(now) else "expired")
        typer.echo(f"{info.id}  {info.user}  {','.join(info.roles) or '-'}  {state}  "
                   f"created {info.created_at}  expires {info.expires_at or 'never'}")


@token_app.command(name="revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The id token list shows.")],
                 workspace: WorkspaceOption = Path("vip.yaml")) -> None:
    """Revoke a token by its id; requests with it get 401 (within the token cache time)."""
    try:
        info = _tokens(workspace).revoke(token_id)
    except vw.NotFoundError as exc:
        fail(str(exc.args[0]))
    typer.echo(f"revoked {info.id} ({info.user})")
