"""Reading and validating Data First extracts: `open_extract`, `Extract`, `ValidationReport`."""

from __future__ import annotations

from djs_toolkit.data.column_map import ColumnMap, draft_column_map, load_column_map
from djs_toolkit.data.extract import Extract, open_extract
from djs_toolkit.data.report import Problem, ValidationReport

__all__ = ["ColumnMap", "Extract", "Problem", "ValidationReport", "draft_column_map", "load_column_map", "open_extract"]
