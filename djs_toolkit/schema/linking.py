"""Cross-justice-system linking: `xjs_link` and `mags_crown_journey` (docs/data.md §10)."""

from __future__ import annotations

from djs_toolkit.schema._codes import SOURCE_DATASETS
from djs_toolkit.schema._core import Column as C
from djs_toolkit.schema._core import Table

__all__ = ["MAGS_CROWN_JOURNEY", "XJS_LINK"]

XJS_LINK = Table(
    name="xjs_link",
    dataset="xjs",
    provenance="S",
    description="Person lookup: every linked record with its cross-justice person id.",
    grain="one row per linked person-record",
    # A record linked to several persons repeats the key: the spine resolves it by one rule.
    key=("source_dataset", "row_id_hash"),
    duplicate_key="warning",
    aliases=("link", "xjs", "cjsl_link"),
    columns=(
        C(
            "source_dataset",
            "category",
            "S-code",
            "Dataset of the record.",
            codes=SOURCE_DATASETS,
            closed=True,
            nullable=False,
        ),
        C("row_id_hash", "string", "S-code", "Row key of the record in its dataset.", nullable=False),
        C("estimated_xjs_id", "string", "S-code", "Cross-justice person id (Splink cluster).", nullable=False),
    ),
)

MAGS_CROWN_JOURNEY = Table(
    name="mags_crown_journey",
    dataset="xjs",
    provenance="S",
    description="Links magistrates' cases to the Crown Court cases they were sent or committed to.",
    grain="one row per linked magistrates'-Crown case pair",
    key=("mc_case_id_hash", "mc_defendant_id_hash", "cc_defendant_on_case_id_hash"),
    aliases=("journey",),
    columns=(
        C("mc_case_id_hash", "string", "P", "Magistrates' case id.", nullable=False),
        C("mc_defendant_id_hash", "string", "P", "Magistrates' defendant id.", nullable=False),
        C("cc_defendant_on_case_id_hash", "string", "P", "Crown defendant-on-case id.", nullable=False),
        C("estimated_match_score", "float", "P", "Match score (0-1).", valid_range=(0, 1)),
    ),
)
