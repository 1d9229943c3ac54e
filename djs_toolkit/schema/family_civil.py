"""Family court (FamilyMan, `familyman`) and civil court (CaseMan + PCOL, `civil_caseman_pcol`).

Sources: docs/data.md §7 (family: cases, events and a parties table) and §8 (civil: cases,
parties including organisations, events). Apart from `case_number_hash` the names are [P].
"""

from __future__ import annotations

from djs_toolkit.schema._codes import COURT_GENDER
from djs_toolkit.schema._core import Column as C
from djs_toolkit.schema._core import Table

__all__ = [
    "CIVIL_CASES",
    "CIVIL_EVENTS",
    "CIVIL_PARTIES",
    "CLAIM_TYPES",
    "FAMILY_CASES",
    "FAMILY_CASE_TYPES",
    "FAMILY_EVENTS",
    "FAMILY_PARTIES",
]

# Family case types (docs/data.md §9.8, FCS).
FAMILY_CASE_TYPES = (
    "Public law",
    "Private law",
    "Matrimonial",
    "Financial remedy",
    "Family Law Act",
    "Forced marriage protection",
    "FGM protection",
    "Adoption",
)
# Civil claim types (docs/data.md §8, CJSQ wording).
CLAIM_TYPES = (
    "Money (specified)",
    "Money (unspecified)",
    "Mortgage possession",
    "Landlord possession",
    "Return of goods",
    "Insolvency",
)

FAMILY_CASES = Table(
    name="family_cases",
    dataset="familyman",
    provenance="P",
    description="Family court cases.",
    grain="one row per case",
    key=("case_number_hash",),
    window_column="case_start_date",
    aliases=("cases", "faco_cases"),
    columns=(
        C("case_number_hash", "string", "S", "Hashed case number.", nullable=False),
        C("case_type", "category", "P", "Case type.", codes=FAMILY_CASE_TYPES, closed=True, nullable=False),
        C("case_start_date", "date", "P", "Date the case was issued.", nullable=False),
        C("case_end_date", "date", "P", "Date of final disposal."),
        C("court_code", "string", "P", "Originating court (opaque code)."),
        C("related_case_number_hash", "string", "P", "A related earlier case."),
    ),
)

FAMILY_EVENTS = Table(
    name="family_events",
    dataset="familyman",
    provenance="P",
    description="Events within family cases: applications, hearings, orders.",
    grain="one row per event",
    key=("event_id_hash",),
    aliases=("events", "faco_events"),
    columns=(
        C("event_id_hash", "string", "P", "Hashed event id.", nullable=False),
        C("case_number_hash", "string", "S", "Case; joins to family_cases.", nullable=False),
        C(
            "event_type",
            "category",
            "P",
            "Event type.",
            codes=("Application", "Hearing", "Order", "Administrative"),
            closed=True,
        ),
        C("event_date", "date", "P", "Date of event."),
        C("order_type", "string", "P", "Order made, for order events (e.g. Care order)."),
    ),
)

FAMILY_PARTIES = Table(
    name="family_parties",
    dataset="familyman",
    provenance="P",
    description="People who are parties to family cases.",
    grain="one row per person per case",
    key=("row_id_hash",),
    aliases=("parties", "people", "faco_parties"),
    columns=(
        C("row_id_hash", "string", "I", "Row key; joins to xjs_link.", nullable=False),
        C("case_number_hash", "string", "S", "Case; joins to family_cases.", nullable=False),
        C("person_id_hash", "string", "P", "Unique id for each party within the source."),
        C("estimated_person_id", "string", "P", "Splink within-dataset person id."),
        C(
            "party_role",
            "category",
            "P",
            "Role in the case.",
            codes=("Applicant", "Respondent", "Child", "Other party"),
            closed=True,
        ),
        C("gender", "category", "P", "Sex.", codes=COURT_GENDER, closed=True),
        C("age_at_case_start", "int", "P", "Age in years when the case started.", valid_range=(0, 110)),
        C("legal_rep_flag", "bool", "P", "Legally represented."),
        C("fee_exempt_flag", "bool", "P", "Fee exemption (a low-income proxy)."),
    ),
)

CIVIL_CASES = Table(
    name="civil_cases",
    dataset="civil_caseman_pcol",
    provenance="P",
    description="County Court claims (CaseMan and Possession Claim Online).",
    grain="one row per claim",
    key=("case_number_hash",),
    window_column="issue_date",
    aliases=("claims", "civil_claims"),
    columns=(
        C("case_number_hash", "string", "P", "Hashed claim number.", nullable=False),
        C("claim_type", "category", "P", "Claim type.", codes=CLAIM_TYPES, closed=True, nullable=False),
        C(
            "landlord_type",
            "category",
            "P",
            "Landlord claims: social, private or accelerated.",
            codes=("Social", "Private", "Accelerated"),
            closed=True,
        ),
        C("issue_date", "date", "P", "Date the claim was issued.", nullable=False),
        C("claim_amount", "float", "P", "Amount claimed in pounds."),
        C("court_code", "string", "P", "Court (opaque code)."),
    ),
)

CIVIL_PARTIES = Table(
    name="civil_parties",
    dataset="civil_caseman_pcol",
    provenance="P",
    description="Parties to civil claims, people and organisations.",
    grain="one row per party per claim",
    key=("row_id_hash",),
    aliases=("civil_party",),
    columns=(
        C("row_id_hash", "string", "I", "Row key; people join to xjs_link.", nullable=False),
        C("case_number_hash", "string", "P", "Claim; joins to civil_cases.", nullable=False),
        C(
            "party_type",
            "category",
            "P",
            "Individual or organisation.",
            codes=("Individual", "Organisation"),
            closed=True,
            nullable=False,
        ),
        C("party_role", "category", "P", "Claimant or defendant.", codes=("Claimant", "Defendant"), closed=True),
        C("person_id_hash", "string", "P", "Source party id (individuals)."),
        C("estimated_person_id", "string", "P", "Splink within-dataset person id (individuals)."),
    ),
)

CIVIL_EVENTS = Table(
    name="civil_events",
    dataset="civil_caseman_pcol",
    provenance="P",
    description="Events within civil claims: hearings, judgments, orders, warrants.",
    grain="one row per event",
    key=("event_id_hash",),
    aliases=("civil_event",),
    columns=(
        C("event_id_hash", "string", "P", "Hashed event id.", nullable=False),
        C("case_number_hash", "string", "P", "Claim; joins to civil_cases.", nullable=False),
        C(
            "event_type",
            "category",
            "P",
            "Event type.",
            closed=True,
            codes=("Hearing", "Judgment", "Possession order", "Warrant issued", "Warrant executed"),
        ),
        C("event_date", "date", "P", "Date of event."),
    ),
)
