"""djs_toolkit: analysis toolkit for the MoJ Data First linked datasets.

Public API (stable, see DESIGN.md "Contract"): `open_extract`, `Extract`, `ValidationReport`,
the error classes, and the thematic modules `schema`, `dummy`, `spine`, `survival`, `overlap`,
`flows`, `sdc`, `outputs`.
"""

from __future__ import annotations

from djs_toolkit.data import Extract, ValidationReport, open_extract
from djs_toolkit.errors import DisclosureError, DJSError, DJSUserError

__version__ = "0.1.0"

__all__ = ["open_extract", "Extract", "ValidationReport", "DJSError", "DJSUserError", "DisclosureError", "__version__"]
