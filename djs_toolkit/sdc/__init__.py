"""Five Safes output checking: ACRO-like checked outputs with secondary suppression and an LP attacker audit.

`Session` checks tables (`crosstab`, `pivot_table`, `hist`, `table` for numbers given with their counts),
survival curves (`km`, `cif`), models (`regression`) and files (`custom`), and checks every output for
differencing against a per-project `Ledger` of earlier outputs; `check_folder` (`djs check`) checks outputs made
elsewhere; `finalise` writes the clearance folder.

Example:
    >>> from djs_toolkit.sdc import Session
    >>> Session("srs").profile.threshold
    10
"""

from __future__ import annotations

from djs_toolkit.sdc.audit import PublishedSystem, audit
from djs_toolkit.sdc.folder import FolderCheck, check_folder
from djs_toolkit.sdc.ledger import Ledger
from djs_toolkit.sdc.output import Output
from djs_toolkit.sdc.overlap import protect_overlap
from djs_toolkit.sdc.profiles import Profile, available_profiles, load_profile
from djs_toolkit.sdc.session import EXCEPTION_CODES, Session

__all__ = [
    "EXCEPTION_CODES",
    "FolderCheck",
    "Ledger",
    "Output",
    "Profile",
    "PublishedSystem",
    "Session",
    "audit",
    "available_profiles",
    "check_folder",
    "load_profile",
    "protect_overlap",
]
