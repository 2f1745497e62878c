"""The one strict pydantic base of every model read from a data file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["FileModel"]


class FileModel(BaseModel):
    """Base of every file model: unknown keys are errors, and a loaded file never changes.

    ``extra="forbid"`` makes a misspelt key an error ("unknown key 'polcy'; did you mean
    'policy'?") rather than a silently ignored line; ``frozen`` makes a loaded file a value;
    ``populate_by_name`` lets Python code use a field's name where the file uses an alias
    (``in_`` for ``in``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
