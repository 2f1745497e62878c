"""Numbers for readers: thousands separators, percentages as percentages, units beside values.

In the reader's language (``zh_CN`` or ``en``; both group thousands with a comma and write a
decimal point, as Babel's CLDR data has them): ``158500`` reads ``158,500``, a share ``0.952``
reads ``95.2%``, a KPI in yuan reads ``12,300 元`` (``CNY 12,300`` in English). Plain Python
formatting: a report lists tens of thousands of numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["measure", "number", "percent", "target", "when"]

#: KPI unit -> the word written beside a value, by language (``percent`` is written as a %).
_UNITS = {"cny": {"zh_CN": "{} 元", "en": "CNY {}"},
          "per_manager": {"zh_CN": "{} / 客户经理", "en": "{} per manager"}}


def _float(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def number(value: Any, lang: str, digits: int = 2) -> str:
    """``value`` with thousands separators; whole numbers without decimals, others rounded to
    ``digits``. Text that is not a number is returned as it is."""
    if value is None or value == "":
        return ""
    figure = _float(value)
    if figure is None:
        return str(value)
    if figure != figure:  # NaN
        return "—"
    if figure.is_integer() and abs(figure) < 1e15:
        return f"{int(figure):,}"
    text = f"{figure:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(value: Any, lang: str, digits: int = 1) -> str:
    """A share (``0.952``) as a percentage (``95.2%``)."""
    figure = _float(value)
    if figure is None:
        return "" if value is None or value == "" else str(value)
    if figure != figure:
        return "—"
    return f"{figure * 100:,.{digits}f}%"


def measure(value: Any, unit: str | None, lang: str, *, signed: bool = False) -> str:
    """A KPI value in its unit: ``percent`` as a percentage, ``cny`` in yuan, ``per_manager``
    per manager, ``number`` as a plain number (two decimals at most)."""
    figure = _float(value)
    if figure is None:
        return "" if value is None or value == "" else str(value)
    sign = "+" if signed and figure > 0 else ""
    if unit == "percent":
        return sign + percent(figure, lang)
    text = number(round(figure), lang) if unit == "cny" else number(figure, lang)
    words = _UNITS.get(unit or "", {}).get(lang if lang in ("zh_CN", "en") else "en")
    return (sign + text) if words is None else words.format(sign + text)


def target(value: Any, unit: str | None, lang: str) -> str:
    """A KPI target as written in a KPI book (``0.27`` or a range ``[1, 2]``) in its unit."""
    text = "" if value is None else str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        parts = [p.strip() for p in text[1:-1].split(",")]
        if len(parts) == 2 and all(_float(p) is not None for p in parts):
            return "[" + ", ".join(measure(p, unit, lang) for p in parts) + "]"
    return measure(value, unit, lang)


def when(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM UTC`` (naive ones are taken as UTC)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))
