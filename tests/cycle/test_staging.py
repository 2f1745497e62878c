"""Staging folders a killed run leaves behind are removed by the next run; live ones stay."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import vip_workflow as vw
from vip_workflow.cycle.staging import MARKER, MAX_AGE, UNMARKED_AGE

pytestmark = pytest.mark.slow  # more than a few seconds: `pytest -m 'not slow'` skips it

CONFIG = "name: staging\nstorage: sqlite:///vip.db\ntiers: {preset: hubei-2006}\nreports: out\n"
DATA = pl.DataFrame({"customer_id": ["G1"], "importance": ["none"], "revenue": [500.0],
                     "headcount": [0]})

KILLED = """
import os, sys
import polars as pl
import vip_workflow as vw
import vip_workflow.cycle.workspace as module

def killed(*args, **kwargs):
    os._exit(9)  # like kill -9 while the report is being written

module.write_report = killed
data = pl.DataFrame({"customer_id": ["G1"], "importance": ["none"], "revenue": [500.0],
                     "headcount": [0]})
vw.Workspace.from_file(sys.argv[1]).run_cycle("2026-09", data)
"""


def _folder(root: Path, name: str, *, host: str | None = None, pid: int | None = None,
            age: float = 0.0) -> Path:
    """A staging folder with a marker (if ``pid``) and an age in seconds."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "tiers.csv").write_text("customer_id\n", encoding="utf-8")
    if pid is not None:
        (folder / MARKER).write_text(json.dumps(
            {"host": host or socket.gethostname(), "pid": pid}), encoding="utf-8")
    then = time.time() - age
    for path in (*folder.iterdir(), folder):
        os.utime(path, (then, then))
    return folder


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


class TestStaleStagingFolders:
    """The rule of docs/cycle.md: a marker of a live process (or a recent unmarked folder)
    keeps a staging folder; everything else a killed run left is removed."""

    def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(
            self, tmp_path: Path) -> None:
        """A real kill -9 mid-report; the next run publishes and leaves no hidden folder."""
        (tmp_path / "vip.yaml").write_text(CONFIG, encoding="utf-8")
        run = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path / "vip.yaml")],
                             cwd=Path(__file__).parents[2], capture_output=True, timeout=120)
        assert run.returncode == 9, run.stderr.decode()
        left = [p.name for p in (tmp_path / "out").iterdir()]
        assert len(left) == 1 and left[0].startswith(".2026-09-")
        assert (tmp_path / "out" / left[0] / MARKER).exists()
        result = vw.Workspace.from_file(tmp_path / "vip.yaml").run_cycle("2026-09", DATA)
        assert [p.name for p in (tmp_path / "out").iterdir()] == ["2026-09"]
        assert not (result.outputs / MARKER).exists()

    def test_only_stale_staging_folders_are_removed(self, tmp_path: Path) -> None:
        """Dead or old markers and old unmarked folders go; live ones and others stay."""
        (tmp_path / "vip.yaml").write_text(CONFIG, encoding="utf-8")
        root = tmp_path / "out"
        stale = [_folder(root, ".2026-08-dead", pid=_dead_pid()),
                 _folder(root, ".2026-09-old-marker", pid=os.getpid(), age=MAX_AGE + 60),
                 _folder(root, ".2026-09-unmarked", age=UNMARKED_AGE + 60),
                 _folder(root, ".2026-07-elsewhere", host="another-host", pid=1,
                         age=MAX_AGE + 60)]
        kept = [_folder(root, ".2026-09-live", pid=os.getpid()),
                _folder(root, ".2026-09-being-made", age=5),
                _folder(root, ".2026-07-elsewhere-live", host="another-host", pid=1),
                _folder(root, ".cache", age=MAX_AGE + 60),
                _folder(root, "2026-06", age=MAX_AGE + 60)]
        vw.Workspace.from_file(tmp_path / "vip.yaml").run_cycle("2026-09", DATA)
        assert not any(folder.exists() for folder in stale)
        assert all(folder.exists() for folder in kept)
        assert (root / "2026-09" / "report.html").exists()
