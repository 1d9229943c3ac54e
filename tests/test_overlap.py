"""Overlap sets, ordered overlaps, linkage sensitivity and overlap protection on planted extracts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from djs_toolkit import DJSUserError, open_extract, overlap
from djs_toolkit.schema import TABLES
from tests.helpers import valid_tables, write_extract

D = dt.date.fromisoformat
LABELS = ["mags_hocas", "crown_xhibit", "prison_nomis", "probation_delius", "familyman", "civil_caseman_pcol"]


def _template(name: str) -> dict:
    return valid_tables()[name].iloc[0].to_dict()


def planted_extract(root: Path, events: list[tuple]) -> Path:
    """An extract with exactly the planted person-events and nothing else.

    ``events``: (person, dataset, date[, extras]) with extras such as ``sex`` or ``age``. Each event is
    one record that yields exactly one spine event (mags_case, crown_case, custody_start,
    probation_start, family_case_start or civil_claim).
    """
    rows: dict[str, list[dict]] = {n: [] for n in TABLES}
    link = []
    for n, ev in enumerate(events):
        person, ds, date = ev[:3]
        x = ev[3] if len(ev) > 3 else {}
        sex, age, rid = x.get("sex", "M"), x.get("age", 30), f"r{n}"
        if ds == "mags_hocas":
            rows["mags_defendant_case"].append(dict(row_id_hash=rid, case_id_hash=f"c{n}", first_hearing_date=D(date),
                                                    final_result_date=None, disposal_type="Dismissed or acquitted",
                                                    gender=sex, age_at_offence=age))
        elif ds == "crown_xhibit":
            rows["crown_defendant_case"].append(dict(row_id_hash=rid, receipt_date=D(date), disposal_date=None,
                                                     sentence_date=None, disposal_type="Dismissed or acquitted",
                                                     gender=sex, age_at_offence=age))
        elif ds == "prison_nomis":
            rows["prison_journey"].append(dict(row_id_hash=rid, journey_start_date=D(date), release_date=None,
                                               first_recall_date=None, gender=sex, age_at_reception=age))
        elif ds == "probation_delius":
            rows["probation_flatfile"].append(dict(row_id_hash=rid, event_id_hash=f"e{n}", referral_date=D(date),
                                                   disposal_date=D(date), disposal_termination_date=None, gender=sex,
                                                   age_at_offence=age))
        elif ds == "familyman":
            rows["family_cases"].append(dict(case_number_hash=f"f{n}", case_start_date=D(date), case_end_date=None))
            rows["family_parties"].append(dict(row_id_hash=rid, case_number_hash=f"f{n}", gender=sex,
                                               age_at_case_start=age, party_role="Respondent"))
        else:
            rows["civil_cases"].append(dict(case_number_hash=f"v{n}", issue_date=D(date)))
            rows["civil_parties"].append(dict(row_id_hash=rid, case_number_hash=f"v{n}", party_type="Individual",
                                              party_role="Defendant"))
        link.append((ds, rid, person))
    tables = {}
    for name, table in TABLES.items():
        if name == "xjs_link":
            continue
        tpl = _template(name)
        tables[name] = pd.DataFrame([{**tpl, **r} for r in rows[name]], columns=list(table.column_names))
    tables["xjs_link"] = pd.DataFrame(link, columns=["source_dataset", "row_id_hash", "estimated_xjs_id"])
    return write_extract(root, tables=tables)
