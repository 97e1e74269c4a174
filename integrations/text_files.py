"""Text files as people save them: UTF-8 with or without a byte-order mark, UTF-16 or UTF-32 with one.

A byte-order mark is read and dropped (Windows editors write one), so it never becomes part of a first entry;
text in another encoding is refused naming the file and the encoding it looks like.
"""
from __future__ import annotations

import codecs
import os

# UTF-32-LE's mark begins with UTF-16-LE's: the longer marks are tried first
BYTE_ORDER_MARKS = ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
                    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
                    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))


def _likely_encoding(data: bytes) -> str:
    """What undecodable bytes look like: UTF-16 without a mark (every other byte NUL) or a single-byte code page."""
    even, odd = data[0::2], data[1::2]
    if odd and odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.1 * len(even):
        return "UTF-16 little-endian without a byte-order mark"
    if even and even.count(0) > 0.4 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "UTF-16 big-endian without a byte-order mark"
    return "a single-byte encoding such as Windows-1252 or Latin-1"


def decode_text(data: bytes, path: str, what: str) -> str:
    """``data`` as text: by its byte-order mark if it has one (dropped), else UTF-8.

    Raises:
        ValueError: the bytes are not text in that encoding; the message names ``what`` and ``path``, the
            first bad byte and the encoding the file looks like.
    """
    for mark, codec, name in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as err:
                raise ValueError(f"{what} {path} starts with a {name} byte-order mark but is not {name} text "
                                 f"(byte {err.start}): save it again as UTF-8") from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{what} {path} is not UTF-8 text (byte 0x{data[err.start]:02x} at position {err.start}); "
                         f"it looks like {_likely_encoding(data)}: save it as UTF-8") from err
    if "\x00" in text:  # ASCII in UTF-16 is valid UTF-8 with a NUL after every character
        raise ValueError(f"{what} {path} is not UTF-8 text (NUL bytes, first at position {data.index(0)}); it looks "
                         f"like {_likely_encoding(data)}: save it as UTF-8")
    return text


def read_text(path: str, what: str) -> str:
    """The text of the file ``path`` (see :func:`decode_text`); a missing file is named as ``what``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    with open(path, "rb") as handle:
        return decode_text(handle.read(), path, what)
