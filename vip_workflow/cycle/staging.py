"""Staging folders: where a run renders its outputs before they are renamed into place.

A staging folder is a hidden folder ``.<YYYY-MM>-…`` in the workspace's reports folder, holding
a marker (``.vw-staging``: host, process id, start) while its run is alive. A run killed
before it published leaves one behind; the next run of the workspace removes every *stale*
one before it stages its own:

* marked by a process of this host that no longer runs, or marked more than ``MAX_AGE`` ago
  (no cycle runs that long; this also covers a process id taken over by another program);
* marked by another host (a reports folder shared between machines): stale after ``MAX_AGE``;
* without a marker (left by an older release, or a folder being created right now): stale
  once nothing in it changed for ``UNMARKED_AGE``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

__all__ = ["MARKER", "MAX_AGE", "UNMARKED_AGE", "is_stale", "remove_stale", "stage",
           "unmark"]

MARKER = ".vw-staging"
MAX_AGE = 24 * 3600.0
UNMARKED_AGE = 600.0
_STAGING = re.compile(r"^\.\d{4}-\d{2}-")


def stage(root: Path, prefix: str) -> Path:
    """A new staging folder in ``root`` (readable by all), marked as this process's."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    folder.chmod(0o755)  # mkdtemp makes it private; reports are for reading
    (folder / MARKER).write_text(json.dumps({
        "host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}),
        encoding="utf-8")
    return folder


def unmark(folder: Path) -> None:
    """Drop the marker (just before the folder is published under the period's name)."""
    (folder / MARKER).unlink(missing_ok=True)


def remove_stale(root: Path) -> list[Path]:
    """Remove the stale staging folders in ``root``; returns them."""
    removed = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_dir() and _STAGING.match(folder.name) and is_stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def is_stale(folder: Path, *, now: float | None = None) -> bool:
    """Whether the staging folder's run is gone (see the module docstring)."""
    now = time.time() if now is None else now
    try:
        owner = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        marked = (folder / MARKER).stat().st_mtime
    except (OSError, ValueError):  # no marker, or one being written
        return _untouched_for(folder, now) > UNMARKED_AGE
    if now - marked > MAX_AGE:
        return True
    if owner.get("host") != socket.gethostname():
        return False
    return not _running(int(owner.get("pid", -1)))


def _untouched_for(folder: Path, now: float) -> float:
    """Seconds since the folder changed (0 if it is gone: its run published or removed it)."""
    try:
        return now - folder.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _running(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # pragma: no cover - no cheap check: rely on MAX_AGE
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True
