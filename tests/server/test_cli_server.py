"""``vip-workflow token …`` and ``vip-workflow serve`` (a real server in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests.server.conftest import free_port, write_workspace
from vip_workflow.cli.main import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _token(vip: Path, *args: str) -> str:
    result = runner.invoke(app, ["token", "create", "--workspace", str(vip), *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


class TestTokenCommands:
    def test_create_prints_the_token_alone_on_the_last_line_and_list_never_shows_it(
            self, tmp_path: Path) -> None:
        """The last line is the token; token list shows its id, user and roles only."""
        vip = write_workspace(tmp_path, "sqlite:///vip.db")
        token = _token(vip, "--user", "张三", "--roles", "account_manager,industry_manager",
                       "--expires", "30d")
        assert token.startswith("vwt_") and " " not in token
        listed = runner.invoke(app, ["token", "list", "--workspace", str(vip)])
        assert "张三" in listed.output and "account_manager,industry_manager" in listed.output
        assert token not in listed.output and "live" in listed.output

    def test_revoke_ends_a_token(self, tmp_path: Path) -> None:
        """A revoked token acts as nobody; an unknown id is an error."""
        from vip_workflow import Workspace
        from vip_workflow.adapters.server.app import open_tokens

        vip = write_workspace(tmp_path, "sqlite:///vip.db")
        token = _token(vip, "--user", "AM001", "--roles", "account_manager")
        token_id = token.split("_")[1]
        done = runner.invoke(app, ["token", "revoke", token_id, "--workspace", str(vip)])
        assert done.exit_code == 0 and "revoked" in done.output
        assert open_tokens(Workspace.from_file(vip)).actor(token) is None
        unknown = runner.invoke(app, ["token", "revoke", "nope", "--workspace", str(vip)])
        assert unknown.exit_code == 1

    def test_a_bad_expiry_is_refused(self, tmp_path: Path) -> None:
        """--expires takes 30d, 12h, 90m or a date."""
        vip = write_workspace(tmp_path, "sqlite:///vip.db")
        result = runner.invoke(app, ["token", "create", "--workspace", str(vip), "--user",
                                     "x", "--expires", "soon"])
        assert result.exit_code == 2


class TestServe:
    def test_serve_with_two_workers_answers_with_a_cli_token(self, tmp_path: Path) -> None:
        """vip-workflow serve --workers 2 starts uvicorn; a token made by the CLI works."""
        vip = write_workspace(tmp_path, "sqlite:///vip.db")
        token = _token(vip, "--user", "AM001", "--roles", "account_manager")
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-c", "from vip_workflow.cli.main import main; main()", "serve",
             "--workspace", str(vip), "--port", str(port), "--workers", "2",
             "--log-level", "warning"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise AssertionError("the server did not start")
            books = httpx.get(f"{url}/api/v1/books",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert books.status_code == 200 and books.json()[0]["name"] == "hubei-2006"
            assert httpx.get(f"{url}/api/v1/books", timeout=10).status_code == 401
        finally:
            process.terminate()
            output = process.communicate(timeout=30)[0].decode(errors="replace")
        assert token not in output

    def test_serve_on_a_missing_workspace_fails_readably(self, tmp_path: Path) -> None:
        """No vip.yaml: exit 2 with the path, no traceback."""
        result = runner.invoke(app, ["serve", "--workspace", str(tmp_path / "none.yaml")])
        assert result.exit_code == 2 and "none.yaml" in result.output
