"""Command functions for the storage and outbox commands of ``vip-workflow``:

    vip-workflow db upgrade URL          -> db_upgrade_command
    vip-workflow dispatch [URL] [--forever] [--notifier SPEC ...]  -> dispatch_command

They are plain typer command functions; ``vip_workflow.cli.main`` registers them.
"""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from vip_workflow.cli.common import fail

__all__ = ["db_upgrade_command", "dispatch_command"]


def db_upgrade_command(
    url: Annotated[str, typer.Argument(help="Database URL, e.g. sqlite:///vip.db or "
                                            "postgresql+psycopg://user@host/db.")],
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create or upgrade the vip_workflow tables in the database at URL."""
    from vip_workflow.adapters.storage.sql import current_revision, upgrade
    from vip_workflow.errors import StorageError

    try:
        before = current_revision(url)
        after = upgrade(url, revision)
    except StorageError as exc:
        fail(str(exc))
    if before == after:
        typer.echo(f"schema already at {after}")
    else:
        typer.echo(f"schema upgraded: {before or '(empty)'} -> {after}")


def dispatch_command(
    url: Annotated[str, typer.Argument(envvar="VIP_WORKFLOW_STORAGE",
                                       help="Storage URL whose outbox to deliver.")],
    forever: Annotated[bool, typer.Option("--forever", help="Keep running as a worker "
                                          "(stop with Ctrl-C or SIGTERM).")] = False,
    notifier: Annotated[list[str] | None, typer.Option(
        "--notifier", "-n", envvar="VIP_WORKFLOW_NOTIFIER",
        help="Notifier URL (repeat for several); default log://.")] = None,
    interval: Annotated[float, typer.Option(help="Seconds to sleep when idle.")] = 1.0,
    max_attempts: Annotated[int, typer.Option(help="Attempts before a dead letter.")] = 8,
    limit: Annotated[int, typer.Option(help="Notices per batch.")] = 1000,
) -> None:
    """Deliver the notices waiting in the outbox (once, or --forever as a worker)."""
    from vip_workflow.bootstrap import build_dispatcher
    from vip_workflow.errors import VipWorkflowError

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    if forever:
        signal.signal(signal.SIGTERM, stop)
    try:
        dispatcher = build_dispatcher(url, notifier or ["log://"], max_attempts=max_attempts)
        report = dispatcher.run(forever=forever, interval=interval, limit=limit,
                                stop=lambda: stopping)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    except VipWorkflowError as exc:
        fail(str(exc))
    typer.echo(f"delivered {report.delivered}, to retry {report.retried}, dead {report.dead}")
    if report.dead:
        sys.exit(2)
