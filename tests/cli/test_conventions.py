"""One house: the command table matches the help, every command has a one-line summary, every
located problem has one format, and the old spellings still work with a warning."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import vip_workflow as vw
from vip_workflow.cli.io import located
from vip_workflow.cli.main import app
from vip_workflow.samples import load_sample_portfolio

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
LOCATED = re.compile(r"^(?P<file>[^:\s]+)(:(?P<line>\d+))?(:(?P<column>\d+))?: "
                     r"(?:(?P<field>[^:]+): )?(?P<reason>.+?)(?: \((?P<severity>warning|info)\))?$")


def _group() -> Any:
    """The click group typer builds (typer vendors click, so it is duck-typed here)."""
    group = typer.main.get_command(app)
    assert hasattr(group, "commands")
    return group


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(name, command) for every visible command and sub-command, e.g. ``db upgrade``."""
    found = []
    for name, command in group.commands.items():
        if command.hidden:
            continue
        found.append((f"{prefix}{name}", command))
        if hasattr(command, "commands"):
            found += _commands(command, f"{prefix}{name} ")
    return found


def _table_commands(path: Path, section: str | None) -> set[str]:
    text = path.read_text(encoding="utf-8")
    if section is not None:
        text = text[text.index(section):]
        end = text.find("\n## ", 1)
        text = text if end < 0 else text[:end]
    return set(re.findall(r"^\| `vip-workflow ([a-z-]+)", text, flags=re.MULTILINE))


class TestCommandTables:
    """The README's and docs/cli.md's tables list exactly the commands of --help."""

    def test_help_lists_every_top_level_command(self) -> None:
        """Each command the app has is shown by vip-workflow --help."""
        result = runner.invoke(app, ["--help"], terminal_width=200)
        assert result.exit_code == 0
        for name, _ in _commands(_group()):
            if " " not in name:
                assert re.search(rf"^\W*{name}\s", result.output, flags=re.MULTILINE), name

    @pytest.mark.parametrize(("path", "section"), [("README.md", "## Commands"),
                                                   ("docs/cli.md", "## Commands")])
    def test_the_table_and_the_help_agree(self, path: str, section: str) -> None:
        """Every command in --help is in the table, and every command in the table exists."""
        in_help = {name for name, _ in _commands(_group()) if " " not in name}
        assert _table_commands(ROOT / path, section) == in_help


class TestHelp:
    """Every command and group explains itself in one line."""

    @pytest.mark.parametrize("name", [name for name, _ in _commands(_group())])
    def test_every_command_has_a_one_line_summary(self, name: str) -> None:
        """The first line of the help text is a sentence; --help works."""
        command = dict(_commands(_group()))[name]
        first = (command.help or "").strip().splitlines()[0] if command.help else ""
        assert first and len(first) <= 100, name
        result = runner.invoke(app, [*name.split(), "--help"])
        assert result.exit_code == 0, result.output

    def test_every_data_command_takes_encoding(self) -> None:
        """judge, run, diff, scan and kpi read text with --encoding."""
        commands = dict(_commands(_group()))
        for name in ["judge", "run", "diff", "scan", "kpi"]:
            options = {o for p in commands[name].params for o in getattr(p, "opts", [])}
            assert "--encoding" in options, name


BAD_TIERS = """\
name: bad
tiers: [A, B]
scheme:
  type: chain
  default: B
  factors:
    - field: revenue
      bands:
        - {min: 10, tier: Z}
"""


class TestOneErrorFormat:
    """validate, lint and process check print file:line:column: field: reason."""

    def test_located_leaves_out_what_is_unknown(self) -> None:
        """The formatter itself."""
        assert located("a.yaml", "bad", line=3, column=4, field="x") == "a.yaml:3:4: x: bad"
        assert located("a.yaml", "bad", line=3) == "a.yaml:3: bad"
        assert located("a.yaml", "gap", field="x", severity="warning") == "a.yaml: x: gap (warning)"

    def test_validate(self, tmp_path: Path) -> None:
        """No 'error' prefix, no 'in'; line and column from the exception's attributes."""
        path = tmp_path / "bad.yaml"
        path.write_text(BAD_TIERS, encoding="utf-8")
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 1
        line = result.stderr.strip().splitlines()[0]
        match = LOCATED.match(line)
        assert match, line
        assert (match["file"], match["line"]) == (str(path), "9") and match["column"]
        assert match["field"].endswith(".tier") and "unknown tier 'Z'" in match["reason"]
        assert " in " not in line.split(": ")[1] and not line.startswith("error")

    def test_lint(self, tmp_path: Path) -> None:
        """Errors bare, info findings marked, each with its code."""
        path = tmp_path / "overlap.yaml"
        path.write_text(BAD_TIERS.replace("tier: Z}", "tier: A}\n        - {min: 5, max: 10, "
                                          "closed: both, tier: B}"), encoding="utf-8")
        result = runner.invoke(app, ["lint", str(path), "-v"])
        assert result.exit_code == 1
        findings = [line for line in result.stdout.splitlines()
                    if line.startswith(f"{path}:") and "error(s)" not in line]
        assert len(findings) >= 2
        for line in findings:
            match = LOCATED.match(line)
            assert match and match["line"] and match["field"], line
        assert any("[overlap]" in line and "(" not in line.rsplit("]", 1)[1]
                   for line in findings)
        assert any(line.endswith("(info)") for line in findings)

    def test_process_check(self, tmp_path: Path) -> None:
        """The same format for process definitions."""
        bad = tmp_path / "bad.yaml"
        bad.write_text("name: bad\ninitial: a\nstates:\n  - {name: a, owner: wizard}\n")
        result = runner.invoke(app, ["process", "check", str(bad)])
        assert result.exit_code == 1
        match = LOCATED.match(result.stderr.strip().splitlines()[0])
        assert match and (match["line"], match["field"]) == ("4", "states[0].owner")
        assert "wizard" in match["reason"]

    def test_a_bad_rule_file_given_to_judge(self, tmp_path: Path) -> None:
        """--rules FILE that does not load: the same located line, exit 1."""
        path = tmp_path / "bad.yaml"
        path.write_text(BAD_TIERS, encoding="utf-8")
        result = runner.invoke(app, ["judge", "x.csv", "--rules", str(path)])
        assert result.exit_code == 1
        assert LOCATED.match(result.stderr.strip().splitlines()[0])


class TestDeprecatedSpellings:
    """run --data and diff --rules OLD NEW --data keep working for 0.2, with a warning."""

    @pytest.fixture
    def portfolio(self, tmp_path: Path) -> Path:
        path = tmp_path / "groups.parquet"
        load_sample_portfolio().head(100).write_parquet(path)
        return path

    def test_diff_rules_old_new_data(self, tmp_path: Path, portfolio: Path) -> None:
        """The old diff spelling gives the same preview as diff OLD NEW DATA."""
        old = vw.preset("hubei-2006").save(tmp_path / "old.yaml")
        new = vw.preset("china-mobile-abc").save(tmp_path / "new.yaml")
        before = runner.invoke(app, ["diff", "--rules", str(old), str(new), "--data",
                                     str(portfolio)])
        now = runner.invoke(app, ["diff", str(old), str(new), str(portfolio)])
        assert before.exit_code == now.exit_code == 0, before.output + now.output
        assert before.stdout == now.stdout
        assert "deprecated" in before.stderr and "diff OLD NEW DATA" in before.stderr
        assert now.stderr == ""

    def test_run_data(self, tmp_path: Path, portfolio: Path) -> None:
        """run --data FILE still runs the cycle and says what to write instead."""
        (tmp_path / "vip.yaml").write_text("name: t\nstorage: memory://\n"
                                           "tiers: {preset: hubei-2006}\n", encoding="utf-8")
        result = runner.invoke(app, ["run", "-c", str(tmp_path / "vip.yaml"), "--period",
                                     "2026-10", "--data", str(portfolio)])
        assert result.exit_code == 0, result.output
        assert "--data FILE is deprecated" in result.stderr
        assert "period 2026-10" in result.stdout

    @pytest.mark.parametrize("args", [
        ["run", "-c", "vip.yaml", "--period", "2026-10", "a.csv", "--data", "b.csv"],
        ["run", "-c", "vip.yaml", "--period", "2026-10"],
        ["diff", "old.yaml", "new.yaml"],
        ["diff", "old.yaml", "new.yaml", "a.csv", "--data", "b.csv"],
        ["diff", "old.yaml", "new.yaml", "a.csv", "b.csv"],
    ])
    def test_a_missing_or_doubled_data_file_exits_2(self, args: list[str]) -> None:
        """Usage mistakes exit 2 with the right spelling."""
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "vip-workflow run DATA" in result.stderr or "diff OLD NEW DATA" in result.stderr
