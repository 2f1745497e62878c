"""The dashboard's languages: Simplified Chinese (default) and English, gettext catalogs.

The catalogs in ``locale/`` beside this module hold the messages of the dashboard (its
templates, chart titles and column headings), shared by the static report and the workbench;
the workbench's own catalog falls back to them. Managed with ``python -m tools.catalogs``.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

__all__ = ["DEFAULT", "LANGUAGES", "LOCALE_DIR", "translations"]

LOCALE_DIR = Path(__file__).parent / "locale"
#: language code -> its own name (shown by the workbench's language switch)
LANGUAGES: dict[str, str] = {"zh_CN": "中文", "en": "English"}
DEFAULT = "zh_CN"


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled dashboard catalog of ``lang`` (a missing one translates nothing)."""
    return gettext.translation("messages", LOCALE_DIR, languages=[lang], fallback=True)
