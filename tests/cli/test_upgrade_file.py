"""vip-workflow upgrade-file: old condition spellings rewritten in place, or only listed."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import vip_workflow as vw
from vip_workflow.cli import app

runner = CliRunner()

OLD = ("kind: triggers  # 客户流失预警\nname: t\ntriggers:\n"
       "  - id: a\n    family: retain\n    action: 拜访客户\n"
       "    when: {type: threshold, field: revenue, op: '<', value: 5000}  # 收入下降\n")


class TestUpgradeFileCommand:
    def test_a_file_in_old_spellings_is_rewritten_and_loads_alike(self, tmp_path: Path) -> None:
        """The rewritten file keeps its comments and Chinese text and gives the same book."""
        path = tmp_path / "触发规则.yaml"
        path.write_text(OLD, encoding="utf-8")
        before = vw.load_rules(path).to_dict()
        result = runner.invoke(app, ["upgrade-file", str(path)])
        assert result.exit_code == 0, result.output
        assert "rewrote" in result.output
        text = path.read_text(encoding="utf-8")
        assert "type: threshold" not in text and "# 收入下降" in text and "拜访客户" in text
        assert vw.load_rules(path).to_dict() == before
        again = runner.invoke(app, ["upgrade-file", str(path)])
        assert again.exit_code == 0 and "already" in again.output

    def test_check_lists_without_writing_and_exits_1(self, tmp_path: Path) -> None:
        """--check leaves the file as it was and fails so CI can hold the line."""
        path = tmp_path / "t.yaml"
        path.write_text(OLD, encoding="utf-8")
        result = runner.invoke(app, ["upgrade-file", "--check", str(path)])
        assert result.exit_code == 1 and "would rewrite" in result.output
        assert path.read_text(encoding="utf-8") == OLD

    def test_a_broken_file_is_a_located_problem(self, tmp_path: Path) -> None:
        """A file that does not load is reported as file:line:column, nothing written."""
        path = tmp_path / "bad.yaml"
        path.write_text("kind: triggers\nname: [\n", encoding="utf-8")
        result = runner.invoke(app, ["upgrade-file", str(path)])
        assert result.exit_code == 1
        assert "bad.yaml:" in result.output
        assert path.read_text(encoding="utf-8") == "kind: triggers\nname: [\n"
