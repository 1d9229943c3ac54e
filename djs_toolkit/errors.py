"""The one error hierarchy of djs_toolkit.

`DJSUserError` is for problems the user can fix (bad input files, a wrong
parameter, a missing column map entry). The command line shows these without a
traceback. Messages name tables, columns and counts only: never a row value or
an identifier, because messages end up in notebooks that output checkers see.
"""

from __future__ import annotations

__all__ = ["DJSError", "DJSUserError"]


class DJSError(Exception):
    """Base class for every error raised by djs_toolkit."""

    __module__ = "djs_toolkit"


class DJSUserError(DJSError):
    """A problem with the user's input, shown without a traceback.

    The message says what is wrong and what to do instead.

    Example:
        >>> raise DJSUserError("Column `age` is missing: map it in your column map.")
        Traceback (most recent call last):
        djs_toolkit.DJSUserError: Column `age` is missing: map it in your column map.
    """

    __module__ = "djs_toolkit"
