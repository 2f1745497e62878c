"""Hostile rule and process files: the generator behind the property tests and the benchmark.

``hostile(rng, kind)`` returns ``(file name, bytes)``: a bundled file of that kind broken in one
of many ways (control characters, huge integers, deep nesting, wide flow lists, aliases, tags,
invalid UTF-8, byte-order marks, truncation, random bytes, JSON variants). ``big=True`` also
makes the near-cap files (about a mebibyte) the cost limits are about.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import yaml
from hypothesis import strategies as st

#: The lines that make a minimal file of each rule kind start (tiers is the default kind).
KINDS = {"tiers": "", "triggers": "kind: triggers\n", "kpis": "kind: kpis\n"}
#: A bundled file of each kind, as the starting point of every mutation.
_SAMPLES = {"tiers": "hubei-2006", "triggers": "seed-001-triggers",
            "kpis": "china-mobile-2006-kpis"}
ALL_KINDS = (*KINDS, "process")

TAGS = ("!!binary aGVsbG8=", "!!python/object/apply:os.system ['true']", "!!set {a: null}",
        "!!timestamp 2026-01-01", "!foo x", "!!str x", "! x", "!!omap [a: 1]", "!!int 3",
        "!<tag:yaml.org,2002:str> x", "!!python/name:os.system", "!!float 1.5")
CONTROL = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x80\x9f\ufffe\uffff"


@cache
def sample(kind: str) -> str:
    """The text of a bundled file of ``kind``."""
    if kind == "process":
        folder = resources.files("vip_workflow.processes") / "library"
        return (folder / "sales.yaml").read_text("utf-8")
    folder = resources.files("vip_workflow.rules.presets")
    return (folder / f"{_SAMPLES[kind]}.yaml").read_text("utf-8")


@cache
def sample_data(kind: str) -> Any:
    return yaml.safe_load(sample(kind))


def _insert(rng: random.Random, text: str, piece: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + piece + text[at:]


def _replace_value(rng: random.Random, text: str, value: str) -> str:
    """Replace the value of one ``key: value`` line with ``value``."""
    lines = text.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines) if ": " in line]
    i = rng.choice(candidates)
    head = lines[i].split(": ", 1)[0]
    lines[i] = f"{head}: {value}\n"
    return "".join(lines)


def _nested(rng: random.Random, depth: int) -> str:
    style = rng.choice(["flow-list", "flow-map", "block"])
    if style == "flow-list":
        return "[" * depth + "]" * depth
    if style == "flow-map":
        return "{a: " * depth + "1" + "}" * depth
    return "".join(f"{'  ' * i}k:\n" for i in range(depth)) + "  " * depth + "v\n"


def _wide(rng: random.Random, items: int) -> str:
    item = rng.choice(["1", "a", "[]", "{}", "''", "x: 1"])
    if item == "x: 1":
        return "{" + ", ".join(f"k{i}: 1" for i in range(items)) + "}"
    return "[" + ",".join([item] * items) + "]"


def _laughs(rng: random.Random) -> str:
    levels = rng.randint(2, 12)
    lines = ["a0: &a0 [lol, lol, lol]"] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _json(rng: random.Random, kind: str) -> str:
    data = sample_data(kind)
    text = json.dumps(data, indent=rng.choice([None, 1, 2, "\t"]), default=str)
    how = rng.choice(["plain", "nan", "bigint", "deep", "dup", "truncate", "wide", "control"])
    if how == "nan":
        text = text.replace("1", "NaN", 1)
    elif how == "bigint":
        text = text.replace("1", "9" * rng.choice([4_299, 4_301, 20_000]), 1)
    elif how == "deep":
        depth = rng.choice([63, 64, 65, 600, 5_000])
        text = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    elif how == "dup":
        text = text[:-1] + ', "name": "again"}'
    elif how == "truncate":
        text = text[: rng.randrange(len(text))]
    elif how == "wide":
        text = text[:-1] + ', "wide": [' + ",".join(["0"] * rng.randint(1, 50_000)) + "]}"
    elif how == "control":
        text = _insert(rng, text, rng.choice(CONTROL))
    return text


def _mutations(big: bool) -> dict[str, Callable[[random.Random, str, str], str | bytes]]:
    wide_max = 600_000 if big else 30_000
    return {
        "control": lambda rng, text, kind: _insert(rng, text, rng.choice(CONTROL)),
        "bigint": lambda rng, text, kind: _replace_value(
            rng, text, "9" * rng.choice([4_299, 4_300, 4_301, 10_000])),
        "sexagesimal": lambda rng, text, kind: _replace_value(
            rng, text, "1" + ":59" * rng.randint(1, 2_000)),
        "deep": lambda rng, text, kind: _replace_value(
            rng, text, _nested(rng, rng.choice([10, 63, 64, 65, 600, 3_000]))).replace(
            ": k:\n", ":\n  k:\n"),
        "deep-top": lambda rng, text, kind: _nested(rng, rng.choice([65, 600, 20_000])),
        "wide": lambda rng, text, kind: _replace_value(
            rng, text, _wide(rng, rng.randint(1, wide_max))),
        "aliases": lambda rng, text, kind: text + _laughs(rng),
        "anchor": lambda rng, text, kind: _replace_value(rng, text, "&x 1"),
        "tag": lambda rng, text, kind: _replace_value(rng, text, rng.choice(TAGS)),
        "tag-top": lambda rng, text, kind: rng.choice(TAGS).split(" ")[0] + "\n" + text,
        "merge": lambda rng, text, kind: text + "<<: {a: 1}\n",
        "complex-key": lambda rng, text, kind: text + "? [a, b]\n: 1\n",
        "duplicate": lambda rng, text, kind: text + text.splitlines()[0] + "\n",
        "two-documents": lambda rng, text, kind: text + "---\n" + text,
        "invalid-utf8": lambda rng, text, kind: _bytes_insert(
            rng, text, rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])),
        "bom": lambda rng, text, kind: rng.choice(
            [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]) + text.encode(),
        "bom-inside": lambda rng, text, kind: _insert(rng, text, "\ufeff"),
        "utf16": lambda rng, text, kind: text.encode("utf-16"),
        "truncate": lambda rng, text, kind: text[: rng.randrange(len(text))],
        "random-bytes": lambda rng, text, kind: rng.randbytes(rng.randint(0, 2_000)),
        "random-text": lambda rng, text, kind: "".join(
            rng.choice(":-[]{},&*!|>'\"#%@` \n\tab01.") for _ in range(rng.randint(0, 500))),
        "empty": lambda rng, text, kind: rng.choice(["", "\n", "---\n", "...\n", "~\n", "[]\n"]),
        "json": lambda rng, text, kind: _json(rng, kind),
        "long-line": lambda rng, text, kind: _replace_value(
            rng, text, "x" * rng.randint(1, 900_000 if big else 50_000)),
        "many-keys": lambda rng, text, kind: text + "".join(
            f"k{i}: {i}\n" for i in range(rng.randint(1, 80_000 if big else 5_000))),
        "swap": lambda rng, text, kind: _swap_lines(rng, text),
    }


def _bytes_insert(rng: random.Random, text: str, piece: bytes) -> bytes:
    raw = text.encode()
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + piece + raw[at:]


def _swap_lines(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


MUTATIONS = tuple(_mutations(False))


def hostile(rng: random.Random, kind: str, *, mutation: str | None = None,
            big: bool = False) -> tuple[str, str, bytes]:
    """One hostile file of ``kind``: (mutation, file name, bytes)."""
    mutation = mutation or rng.choice(MUTATIONS)
    made = _mutations(big)[mutation](rng, sample(kind), kind)
    suffix = ".json" if mutation == "json" or (mutation == "deep-top" and rng.random() < .3) else (
        rng.choice([".yaml", ".yml"]))
    raw = made.encode("utf-8", "surrogatepass") if isinstance(made, str) else made
    return mutation, f"{kind}{suffix}", raw


def near_cap(rng: random.Random, kind: str, limit: int) -> tuple[str, str, bytes]:
    """A file just under ``limit`` bytes built to be as costly as possible to read."""
    how = rng.choice(["flow-list", "flow-maps", "block-list", "long-scalar", "keys", "json-list"])
    head = KINDS.get(kind, "") + "name: big\n"
    room = limit - len(head) - 64
    if how == "flow-list":
        body = "x: [" + ",".join(["1"] * (room // 2)) + "]\n"
    elif how == "flow-maps":
        body = "x: [" + ",".join(["{}"] * (room // 3)) + "]\n"
    elif how == "block-list":
        body = "x:\n" + "- 1\n" * (room // 4)
    elif how == "long-scalar":
        body = "x: " + "y" * room + "\n"
    elif how == "keys":
        body = "".join(f"k{i:06}: 1\n" for i in range(room // 12))
    else:
        return how, f"{kind}.json", (
            '{"x": [' + ",".join(["0"] * (room // 2)) + "]}").encode()
    return how, f"{kind}.yaml", (head + body).encode()


@st.composite
def hostile_files(draw: st.DrawFn, kinds: tuple[str, ...] = tuple(KINDS)) -> tuple[str, bytes]:
    """A hostile file of one of ``kinds``, as (file name, bytes)."""
    kind = draw(st.sampled_from(kinds))
    mutation = draw(st.sampled_from(MUTATIONS))
    rng = draw(st.randoms(use_true_random=False))
    _, name, raw = hostile(rng, kind, mutation=mutation)
    return name, raw
