"""What every tool's ``__main__`` shares: an expected refusal ends with its message alone, a bug with its traceback.

An *expected refusal* is an exception that this project's own checks raise on purpose, with a message that says
what is wrong and names the file or argument. Precisely, an exception is one when

1. it is an instance of :data:`REFUSAL_TYPES` (``ValueError``, ``FileNotFoundError`` and the other ``OSError``
   kinds a path check raises, ``pickle.UnpicklingError`` (an unsafe checkpoint), ``ImportError`` (an optional
   package to install)), and
2. it was raised by a ``raise`` statement in a file of this project (``crc_modules/``, ``integrations/``,
   ``tools/``): the innermost frame of its traceback is such a file and that frame's line is a ``raise``
   (a dataset's refusal built through MMEngine's registry counts: the registry lets it through unchanged).

Anything else (a ``ValueError`` from ``int('x')`` in the project's code, a ``TypeError``, an error from inside
a library) is a bug or an unforeseen failure, and keeps its traceback. A refusal prints ``error: MESSAGE`` on
standard error and exits with status 1.
"""
from __future__ import annotations

import linecache
import os
import pickle
import sys
from typing import Any, Callable, NoReturn, Optional, Sequence, Tuple, Type

REFUSAL_TYPES = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
                 PermissionError, pickle.UnpicklingError, ImportError)
_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_FOLDERS = tuple(os.path.join(_REPOSITORY, name) for name in ("crc_modules", "integrations", "tools"))


def _innermost_frame(error: BaseException):
    traceback = error.__traceback__
    if traceback is None:
        return None
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    return traceback


def _raised_by_project(error: BaseException, folders: Sequence[str]) -> bool:
    """The innermost frame of ``error`` is a ``raise`` statement in a file under ``folders``."""
    frame = _innermost_frame(error)
    if frame is None:
        return False
    path = os.path.abspath(frame.tb_frame.f_code.co_filename)
    if not any(path.startswith(folder + os.sep) for folder in folders):
        return False
    return linecache.getline(path, frame.tb_lineno).lstrip().startswith("raise")


def is_refusal(error: BaseException, folders: Optional[Sequence[str]] = None) -> bool:
    """Whether ``error`` is an expected refusal (see the module's docstring).

    Args:
        error: The exception that ended a tool.
        folders: The project's folders (default: :data:`PROJECT_FOLDERS`).
    """
    folders = PROJECT_FOLDERS if folders is None else tuple(os.path.abspath(f) for f in folders)
    if not isinstance(error, REFUSAL_TYPES):
        return False
    return _raised_by_project(error, folders)


def run_tool(main: Callable[[], Any], always: Tuple[Type[BaseException], ...] = ()) -> NoReturn:
    """Run a tool's ``main()`` and exit: its int result is the status (anything else: 0); a refusal exits 1.

    A refusal (:func:`is_refusal`, or an instance of ``always``) prints ``error: MESSAGE`` on standard error
    without a traceback; every other exception propagates with its traceback.

    Args:
        main: The tool's entry point, called without arguments (it reads ``sys.argv``).
        always: Exception types that are refusals wherever raised: a tool's own refusal type, such as the
            dataset converters' ``ConversionError``, which worker processes re-raise in the parent.
    """
    try:
        result = main()
    except REFUSAL_TYPES + always as error:
        if not (isinstance(error, always) or is_refusal(error)):
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) and not isinstance(result, bool) else 0)
