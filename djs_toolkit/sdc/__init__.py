"""Five Safes output checking: ACRO-like checked outputs with secondary suppression and an LP attacker audit.

Example:
    >>> from djs_toolkit.sdc import Session
    >>> Session("srs").profile.threshold
    10
"""

from __future__ import annotations

from djs_toolkit.sdc.audit import PublishedSystem, audit
from djs_toolkit.sdc.output import Output
from djs_toolkit.sdc.profiles import Profile, available_profiles, load_profile
from djs_toolkit.sdc.session import EXCEPTION_CODES, Session
from djs_toolkit.sdc.ledger import Ledger
from djs_toolkit.sdc.folder import FolderCheck, check_folder

__all__ = [
    "Session", "Output", "Profile", "load_profile", "available_profiles", "PublishedSystem", "audit",
    "EXCEPTION_CODES", "Ledger", "check_folder", "FolderCheck",
]
