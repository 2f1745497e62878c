"""docs/service.md's curl examples, run with curl against a real server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server.conftest import LiveServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"


def _blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_curl_examples_run(sqlite_live: LiveServer, tmp_path: Path) -> None:
    """Every bash block, in order in one shell: each command succeeds and answers as the
    page says (a judged CSV, the override applied, the two problem documents)."""
    missing = [tool for tool in ("bash", "curl", "jq", "iconv") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the examples need {', '.join(missing)}")
    blocks = _blocks()
    assert len(blocks) >= 5
    script = "set -euo pipefail\n" + "\n".join(blocks)
    env = {**os.environ, "VW": sqlite_live.url, "TOKEN": sqlite_live.tokens["AM001"],
           "BOSS": sqlite_live.tokens["DD001"], "LC_ALL": "C.UTF-8"}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert '"name":"hubei-2006"' in out
    assert "customer G1: tier" in out
    assert "湖北省政府" in out and ",tier,rule,reason" in out
    assert "approval\n" in out and "applied\ntrue\n" in out
    assert "precondition_failed" in out and " 412" in out
    assert "unauthorized" in out and " 401" in out
