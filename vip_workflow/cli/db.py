"""Command functions for the storage and outbox commands of ``vip-workflow``:

    vip-workflow db upgrade URL          -> db_upgrade_command
    vip-workflow dispatch [URL] [--forever] [--notifier SPEC ...]  -> dispatch_command

They are plain typer command functions; ``vip_workflow.cli.main`` registers them.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from vip_workflow.cli.common import fail

__all__ = ["db_upgrade_command", "dispatch_command"]


def db_upgrade_command(
    url: Annotated[str, typer.Argument(help="Database URL, e.g. sqlite:///vip.db or "
                                            "postgresql+psycopg://user@host/db.")],
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    definitions: Annotated[list[Path] | None, typer.Option(
        "--definitions", "-d", help="Process definition files or folders deployed besides the "
        "bundled ones, for indexing the work of their running instances.")] = None,
) -> None:
    """Create or upgrade the vip_workflow tables in the database at URL.

    An upgrade across 0005_work also fills the work index of the running instances (who may
    pick each up: the keys tasks_for reads), from the bundled definitions and --definitions.
    """
    from vip_workflow.adapters.storage.sql import current_revision, upgrade
    from vip_workflow.errors import VipWorkflowError

    try:
        before = current_revision(url)
        after = upgrade(url, revision)
        if before is not None and before < _WORK_INDEX <= after:
            typer.echo(f"work index filled for {_reindex(url, definitions or [])} running "
                       "instance(s)")
    except VipWorkflowError as exc:
        fail(str(exc))
    if before == after:
        typer.echo(f"schema already at {after}")
    else:
        typer.echo(f"schema upgraded: {before or '(empty)'} -> {after}")


#: The revision that brought the work index (``vw_work``), which a migration cannot fill.
_WORK_INDEX = "0005_work"


def _reindex(url: str, definitions: list[Path]) -> int:
    """Compute and store the work keys of the running instances at ``url``."""
    from vip_workflow.processes.engine import ProcessEngine
    from vip_workflow.processes.loader import load_definitions
    from vip_workflow.registry import open_store

    store = open_store(url)
    try:
        deployed = [d for path in definitions
                    for d in (load_definitions(path) if path.is_dir() else [path])]
        engine = ProcessEngine(store=store, definitions=deployed)
        return engine.reindex_work(skip_unknown=True)
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


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
