"""The rule-file kernel shared by every file kind: the one bounded, safe reader."""

from vip_workflow.rules.files.reader import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    MAX_NUMBER_CHARS,
    Limits,
    Parsed,
    read_file,
    read_text,
)

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_NUMBER_CHARS",
    "Limits",
    "Parsed",
    "read_file",
    "read_text",
]
