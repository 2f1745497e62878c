"""Decoding text files as an analyst's tools write them: UTF-8 (with or without a byte-order
mark), UTF-16 with its byte-order mark (Excel's "Unicode text"), or GBK/GB18030 (the usual
Chinese Excel export). Shared by the data-file reader of the command line and the scenario
tables, so both read the same files the same way."""

from __future__ import annotations

import codecs

__all__ = ["sniff_decode"]


def sniff_decode(raw: bytes) -> tuple[str, str]:
    """``raw`` as text and the codec it was read with (``utf-8``, ``utf-8-sig``, ``utf-16``
    or ``gb18030``); raises the ``UnicodeDecodeError`` of the UTF-8 attempt when the bytes are
    neither UTF-8 nor GB18030."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    if raw.startswith(codecs.BOM_UTF8):
        return raw.decode("utf-8-sig"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        try:
            return raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            raise exc from None
