"""The kernel every kind of data file shares (tier, trigger and KPI books, process
definitions, ``vip.yaml``):

- ``reader``: the one bounded, safe reader (YAML 1.2 booleans, no tags or aliases, limits);
- ``header``: ``FileHeader``, the keys every file starts with;
- ``model``: ``FileModel``, the one strict pydantic base (unknown keys are errors);
- ``messages``: pydantic's errors in an analyst's words, with did-you-mean;
- ``document``: a read file with the position of every field, validated into located errors;
- ``findings``: ``Finding`` and ``LintReport``, the one shape of a reported problem;
- ``kinds``: kind name → model, loader and ``schema_for(kind)``; ``check_file``.

This package exports the reader only, so that reading a file loads nothing else.
"""

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
