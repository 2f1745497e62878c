"""Hostile process definitions (issue 9): refused with a located ProcessDefinitionError."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import vip_workflow as vw
from tests.rules.hostile import TAGS, hostile_files
from vip_workflow.rules.files import MAX_BYTES, MAX_DEPTH

pytestmark = pytest.mark.slow  # more than a few seconds: `pytest -m 'not slow'` skips it

GOOD = """\
name: mini
version: 1
initial: draft
states:
  - {name: draft, owner: account_manager}
  - {name: done, final: true}
transitions:
  - {event: submit, source: draft, dest: done}
"""


def load_error(text: str, name: str = "p.yaml") -> vw.ProcessDefinitionError:
    with pytest.raises(vw.ProcessDefinitionError) as caught:
        vw.load_definition(name, text=text)
    return caught.value


class TestHostileDefinitions:
    """Each defect of issue 9 is a located ProcessDefinitionError."""

    def test_a_control_character_is_located(self) -> None:
        """A control character names its line and column."""
        error = load_error(GOOD.replace("name: mini", "name: mi\x01ni"))
        assert (error.line, error.column) == (1, 9)

    @pytest.mark.parametrize("name", ["p.yaml", "p.json"])
    def test_a_huge_integer_is_located(self, name: str) -> None:
        """An integer over 4 300 digits is refused at its line, in YAML and JSON."""
        text = (GOOD.replace("version: 1", "version: " + "9" * 5_000) if name == "p.yaml"
                else '{"name": "mini",\n "version": ' + "9" * 5_000 + "}")
        error = load_error(text, name)
        assert error.line == 2
        assert "digits" in error.reason

    @pytest.mark.parametrize("depth", [65, 600, 10_000])
    def test_deep_nesting_is_refused(self, depth: int) -> None:
        """A file nested 600+ levels is an error at the depth limit, not a RecursionError."""
        error = load_error(GOOD + "roles: " + "[" * depth + "]" * depth + "\n")
        assert error.limit == "depth"
        assert "nested too deeply" in error.reason
        if depth < 1_000:  # deeper, libyaml stops first, a little further on the line
            assert (error.line, error.column) == (9, 7 + MAX_DEPTH)
        assert error.line == 9

    @pytest.mark.parametrize("tagged", TAGS)
    def test_every_tag_is_refused(self, tagged: str) -> None:
        """!!binary and every other explicit tag is refused with its line."""
        error = load_error(GOOD + f"description: {tagged}\n")
        assert "tag" in error.reason
        assert (error.line, error.column) == (9, 14)

    def test_text_has_the_size_cap_of_a_file(self) -> None:
        """load_definition(text=) refuses a text over the limit at once."""
        started = time.perf_counter()
        error = load_error("a: " + "x" * 50_000_000)
        assert error.limit == "bytes" and error.line == 1
        assert time.perf_counter() - started < 1

    def test_a_file_near_the_cap_loads_or_fails_within_a_second(self, tmp_path: Path) -> None:
        """A 1 MB flow list is refused at the node limit, quickly."""
        path = tmp_path / "wide.yaml"
        path.write_text(GOOD + "roles: [" + ",".join(["a"] * ((MAX_BYTES - 200) // 2)) + "]\n")
        started = time.perf_counter()
        with pytest.raises(vw.ProcessDefinitionError) as caught:
            vw.load_definition(path)
        assert time.perf_counter() - started < 1
        assert caught.value.limit == "nodes" and caught.value.line == 9

    def test_yes_and_no_are_text_not_booleans(self) -> None:
        """One dialect with the rule files: only true/false are booleans."""
        from vip_workflow.rules.files import read_text

        assert read_text("a: [yes, no, on, off]\n", path="p.yaml").data == {
            "a": ["yes", "no", "on", "off"]}
        assert vw.load_definition("p.yaml", text=GOOD.replace("final: true", "final: yes"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=hostile_files(("process",)))
def test_a_hostile_definition_loads_or_is_a_located_error(case: tuple[str, bytes]) -> None:
    """Whatever the bytes, load_definition gives a definition or a located error."""
    name, raw = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(raw)
        attempts = [lambda: vw.load_definition(path)]
        try:
            text = raw.decode("utf-8")
            attempts.append(lambda: vw.load_definition(name, text=text))
        except UnicodeDecodeError:
            pass
        for attempt in attempts:
            try:
                attempt()
            except vw.ProcessDefinitionError as exc:
                assert type(exc) is vw.ProcessDefinitionError
                assert exc.line is not None, str(exc)
