"""A notifier that writes each notice to a standard-library logger."""

from __future__ import annotations

import logging

from vip_workflow.domain.instances import Notice

__all__ = ["LogNotifier"]


class LogNotifier:
    """Logs one line per notice on ``logger`` (default ``vip_workflow.notices``) at ``level``."""

    def __init__(self, logger: logging.Logger | None = None, *, level: int = logging.INFO) -> None:
        self.logger = logger or logging.getLogger("vip_workflow.notices")
        self.level = level

    def send(self, notice: Notice, *, key: str | None = None) -> None:
        """Log the notice with its fields as ``extra`` data (the ``key`` is not logged)."""
        to = ", ".join([*(f"role:{r}" for r in notice.roles), *notice.users]) or "-"
        self.logger.log(
            self.level,
            "%s %s/%s in %s to %s",
            notice.kind, notice.process, notice.instance_id, notice.state, to,
            extra={"notice": notice},
        )
