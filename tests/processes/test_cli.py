"""The ``process`` command group, run on ``process_app`` directly."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from vip_workflow.cli.processes import process_app

runner = CliRunner()


class TestProcessCli:
    """list, show, graph, map, check, schema."""

    def test_list_names_every_bundled_process(self):
        """Each bundled definition has a row."""
        result = runner.invoke(process_app, ["list"])
        assert result.exit_code == 0, result.output
        for name in ["segmentation", "needs_analysis", "solution_design", "sales",
                     "after_sales", "service_activation", "retention_case"]:
            assert name in result.output

    def test_show_lists_states_owners_and_gate_levels(self):
        """show sales mentions 4.3 and its conditional VP level."""
        result = runner.invoke(process_app, ["show", "sales"])
        assert result.exit_code == 0, result.output
        assert "4.3 Internal approval" in result.output
        assert "level vp: vp_business_development" in result.output
        assert "owner=account_manager" in result.output

    def test_show_of_an_unknown_process_fails(self):
        """An unknown name exits with code 2 and says what is deployed."""
        result = runner.invoke(process_app, ["show", "nope"])
        assert result.exit_code == 2
        assert "no process definition 'nope'" in result.output

    def test_graph_prints_mermaid_and_dot(self):
        """--format mermaid gives a state diagram, --format dot a digraph."""
        mermaid = runner.invoke(process_app, ["graph", "sales", "--format", "mermaid"])
        assert mermaid.output.startswith("stateDiagram-v2")
        assert "internal_approval --> contract_signing: approved" in mermaid.output
        dot = runner.invoke(process_app, ["graph", "sales", "--format", "dot"])
        assert dot.output.startswith('digraph "sales" {')
        assert '"internal_approval" [shape=diamond' in dot.output
        bad = runner.invoke(process_app, ["graph", "sales", "--format", "png"])
        assert bad.exit_code != 0

    def test_map_links_processes_through_hand_offs(self):
        """solution_design waits for 6.2 and 6.3."""
        result = runner.invoke(process_app, ["map"])
        assert "solution_design -->|waits for| new_product_development" in result.output
        assert "sales -->|starts| service_activation" in result.output

    def test_check_reports_located_problems(self, tmp_path):
        """A broken file prints file:line:column and exits 1; a good one says ok."""
        bad = tmp_path / "bad.yaml"
        bad.write_text("name: bad\ninitial: a\nstates:\n  - {name: a, owner: wizard}\n")
        result = runner.invoke(process_app, ["check", str(bad)])
        assert result.exit_code == 1
        assert f"{bad}:4:" in result.output
        assert "wizard" in result.output

    def test_file_option_adds_a_definition(self, tmp_path):
        """--file loads an extra definition next to the bundled ones."""
        extra = tmp_path / "mini.yaml"
        extra.write_text(
            "name: mini\ninitial: a\nstates:\n  - {name: a, owner: account_manager}\n"
            "  - {name: b, final: true}\ntransitions:\n  - {event: go, source: a, dest: b}\n"
        )
        result = runner.invoke(process_app, ["show", "mini", "--file", str(extra)])
        assert result.exit_code == 0, result.output
        assert "go: a → b" in result.output

    def test_schema_is_json(self):
        """schema prints a JSON Schema."""
        result = runner.invoke(process_app, ["schema"])
        assert "states" in json.loads(result.output)["properties"]
