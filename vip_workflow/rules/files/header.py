"""The one header every data file starts with: ``kind``, ``name``, ``version``, ``effective``,
``title`` and ``description``.

Each kind's file model derives from :class:`FileHeader` and narrows ``kind`` to its own name
(``Literal["tiers"]``), so the header keys have the same types, validation and meaning in
every kind of file, and appear first, in this order, in every reference page.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import BeforeValidator, Field

from vip_workflow.rules.files.model import FileModel

__all__ = ["EffectiveDate", "FileHeader", "VersionText"]


def _version_text(value: object) -> object:
    # `version: 2` and `version: 2006.1` are versions, read as the text they show
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _first_day_of_month(value: object) -> object:
    # `effective: 2026-10` means the first day of that month
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}", value.strip()):
        return f"{value.strip()}-01"
    return value


#: A version as text: ``version: 2`` and ``version: "2.1"`` both read as the text they show.
VersionText = Annotated[str, BeforeValidator(_version_text)]
#: A date (``YYYY-MM-DD``), or ``YYYY-MM`` for the first day of that month.
EffectiveDate = Annotated[date, BeforeValidator(_first_day_of_month)]


class FileHeader(FileModel):
    """The keys every kind of data file shares; a kind narrows ``kind`` to its name."""

    kind: str = Field(description="What the file holds: tiers, triggers, kpis or process.")
    name: str = Field(description="Name of the book or process, e.g. hubei-2006.")
    version: VersionText = Field(default="1", description="Version of this file's content.")
    effective: EffectiveDate | None = Field(
        default=None,
        description="Date from which this version applies (YYYY-MM-DD, or YYYY-MM for the "
        "first day of a month).",
    )
    title: str | None = Field(default=None, description="Short title shown to readers.")
    description: str | None = Field(default=None, description="What the file is for.")
