"""Reading pickles of plain data (HSNet's COCO splits) without running any code the file could hold."""
from __future__ import annotations

import pickle
from typing import Any

from .checks import require_file


class _PlainDataUnpickler(pickle.Unpickler):
    """Builds only what pickle builds without a global (dict, list, tuple, str, int, float): no code runs."""

    def __init__(self, handle, path: str):
        super().__init__(handle)
        self.path = path

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"{self.path} asks for the global {module}.{name}; only plain containers, "
                                     f"strings and numbers are admitted")

def load_plain_pickle(path: str, what: str) -> Any:
    """A pickle of plain data (HSNet's COCO splits), refusing any object that would need a class or function.

    A malformed pickle can fail in the unpickler with almost any exception (``AttributeError`` from a BUILD
    opcode on a dict, ``TypeError``, ``IndexError`` ...); each becomes a ``ValueError`` naming the file.
    """
    with open(require_file(path, what), "rb") as handle:
        try:
            return _PlainDataUnpickler(handle, path).load()
        except Exception as err:  # noqa: BLE001  (any failure of a malformed pickle, named with its file)
            raise ValueError(f"cannot read {what} {path}: {type(err).__name__}: {err}") from err
