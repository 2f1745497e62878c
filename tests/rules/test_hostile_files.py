"""Hostile rule files (issue 9): every one is refused with a located RuleFileError, quickly.

Each kind of rule file (tiers, triggers, KPIs) goes through the one reader in
``vip_workflow.rules.files``; the generated corpus at the end throws random hostile text at it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import vip_workflow as vw
from tests.rules.hostile import KINDS, hostile_files
from vip_workflow.rules.files import MAX_BYTES, MAX_DEPTH, MAX_NODES

pytestmark = pytest.mark.slow  # more than a few seconds: `pytest -m 'not slow'` skips it

GOOD = """\
name: demo
tiers: [A, B, C]
scheme:
  type: chain
  policy: first
  default: C
  factors:
    - field: revenue
      bands:
        - {min: 100, tier: A}
        - {min: 10, max: 100, tier: B}
"""


def _error(text: str, name: str = "tiers.yaml") -> vw.RuleFileError:
    with pytest.raises(vw.RuleFileError) as caught:
        vw.loads_rules(text, name=name)
    return caught.value


class TestControlCharacters:
    """A character YAML forbids is a located RuleFileError, not yaml's ReaderError."""

    @pytest.mark.parametrize("name", ["tiers.yaml", "tiers.json"])
    def test_a_control_character_is_located(self, name: str) -> None:
        """The NUL-like byte on line 2 is named with its line and column."""
        text = 'name: "a"\ndescription: "x\x01y"\n' if name.endswith("yaml") else (
            '{"name": "a",\n "description": "x\x01y"}')
        error = _error(text, name)
        assert error.line == 2
        assert error.column is not None
        assert "U+0001" in error.reason

    def test_a_control_character_in_a_file_is_located(self, tmp_path: Path) -> None:
        """Read from disk, the same check names the file."""
        path = tmp_path / "rules.yaml"
        path.write_bytes(b"name: demo\x00\n")
        with pytest.raises(vw.RuleFileError) as caught:
            vw.load_rules(path)
        assert (caught.value.path, caught.value.line, caught.value.column) == (str(path), 1, 11)


class TestHugeNumbers:
    """An integer over Python's 4 300-digit limit is a located error, not a ValueError."""

    @pytest.mark.parametrize("name", ["tiers.yaml", "tiers.json"])
    def test_a_huge_integer_is_located(self, name: str) -> None:
        """The number's line is given; the reason says the number is too long."""
        digits = "9" * 5_000
        text = f"name: demo\nversion: {digits}\n" if name.endswith("yaml") else (
            f'{{"name": "demo",\n "version": {digits}}}')
        error = _error(text, name)
        assert error.line == 2
        assert "digits" in error.reason


class TestNesting:
    """Nesting deeper than MAX_DEPTH is refused where it happens."""

    @pytest.mark.parametrize("name", ["tiers.yaml", "tiers.json"])
    def test_deep_nesting_is_refused_at_the_depth_limit(self, name: str) -> None:
        """600 levels of lists: the error names the depth limit and the line."""
        error = _error("[" * 600 + "]" * 600, name)
        assert error.limit == "depth"
        assert f"{MAX_DEPTH} levels" in error.reason
        assert (error.line, error.column) == (1, MAX_DEPTH + 1)


class TestCostLimits:
    """Size, node count and depth bound every load, file or text."""

    def test_a_file_over_the_size_limit_is_refused(self, tmp_path: Path) -> None:
        """A 5 MB file is refused before it is read, at line 1."""
        path = tmp_path / "rules.yaml"
        path.write_bytes(b"#" * 5_242_881)
        with pytest.raises(vw.RuleFileError) as caught:
            vw.load_rules(path)
        assert str(caught.value) == f"{path}:1:1: file: 5 242 881 bytes exceeds the 1 MiB limit"
        assert caught.value.limit == "bytes"

    def test_text_over_the_size_limit_is_refused(self) -> None:
        """loads_rules has the same size cap as a file."""
        started = time.perf_counter()
        error = _error("a: " + "x" * (MAX_BYTES + 10))
        assert error.limit == "bytes" and error.line == 1
        assert time.perf_counter() - started < 1

    @pytest.mark.parametrize("name", ["tiers.yaml", "tiers.json"])
    def test_a_wide_flow_list_is_refused_at_the_node_limit(self, name: str) -> None:
        """A list of 400 000 items (under the size cap) is refused in well under a second."""
        text = '{"name": [' + ",".join(["1"] * 400_000) + "]}"
        started = time.perf_counter()
        error = _error(text, name)
        assert time.perf_counter() - started < 1
        assert error.limit == "nodes"
        assert f"{MAX_NODES:,}".replace(",", " ") in error.reason
        assert error.line == 1 and error.column is not None

    def test_billion_laughs_is_refused_at_the_first_alias(self) -> None:
        """Aliases never expand: the first one is an error."""
        lines = ["a0: &a0 [lol, lol]"] + [
            f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
        error = _error("\n".join(lines))
        assert "anchors and aliases" in error.reason
        assert error.line == 1


_TAGGED = ["!!binary aGVsbG8=", "!!python/object:os.system x", "!!set {a: null}",
           "!!timestamp 2026-01-01", "!foo x", "!!str x", "! x", "!!map {a: 1}"]


class TestTags:
    """Every explicit tag is refused, in every kind of rule file."""

    @pytest.mark.parametrize("tagged", _TAGGED)
    @pytest.mark.parametrize("kind", sorted(KINDS))
    def test_every_tag_is_refused(self, kind: str, tagged: str) -> None:
        """The tag is named with its line and column."""
        error = _error(f"{KINDS[kind]}description: {tagged}\n")
        assert "tag" in error.reason
        assert error.line == KINDS[kind].count("\n") + 1
        assert error.column == 14

    def test_only_yaml_1_2_booleans_are_booleans(self) -> None:
        """no/yes/on/off stay text; true/false are booleans."""
        from vip_workflow.rules.files import read_text

        data = read_text("a: [no, yes, on, off, y, n, true, False]\n", path="x.yaml").data
        assert data == {"a": ["no", "yes", "on", "off", "y", "n", True, False]}


class TestTheBundledFilesFitTheLimits:
    """The limits are generous: every preset is far below each of them."""

    def test_every_preset_loads(self) -> None:
        """Each bundled preset loads through the bounded reader."""
        for name in vw.presets():
            assert vw.preset(name) is not None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=hostile_files())
def test_a_hostile_file_loads_or_is_a_located_rule_file_error(case: tuple[str, bytes]) -> None:
    """Whatever the bytes, loading gives a book or a RuleFileError with a line number."""
    name, raw = case
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    for attempt in range(2 if text is not None else 1):
        try:
            if attempt == 0:
                _load_bytes(name, raw)
            else:
                vw.loads_rules(text, name=name)
        except vw.RuleFileError as exc:
            assert type(exc) is vw.RuleFileError
            assert exc.line is not None, str(exc)
            for problem in exc.problems:
                assert problem.line is not None, str(problem)


def _load_bytes(name: str, raw: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(raw)
        vw.load_rules(path)


class TestWithoutLibyaml:
    """PyYAML's pure-Python parser (no libyaml) gives the same data and the same refusals."""

    @pytest.mark.parametrize(("text", "limit"), [
        ("a: !!binary aGVsbG8=\n", None), ("[" * 700 + "]" * 700, "depth"),
        ("a: " + "9" * 5_000 + "\n", "number"), ("a: &x 1\nb: *x\n", None),
    ])
    def test_the_refusals_are_the_same(self, monkeypatch: pytest.MonkeyPatch, text: str,
                                       limit: str | None) -> None:
        """Each hostile text is a located RuleFileError either way."""
        from vip_workflow.rules.files import reader

        monkeypatch.setattr(reader, "_CParser", None)
        error = _error(text)
        assert error.limit == limit and error.line == 1

    def test_the_presets_read_the_same(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every bundled preset gives equal data with and without libyaml."""
        from importlib import resources

        from vip_workflow.rules.files import reader

        folder = resources.files("vip_workflow.rules.presets")
        texts = [p.read_text("utf-8") for p in folder.iterdir() if p.name.endswith(".yaml")]
        fast = [reader.read_text(t, path="p.yaml").data for t in texts]
        monkeypatch.setattr(reader, "_CParser", None)
        assert [reader.read_text(t, path="p.yaml").data for t in texts] == fast
