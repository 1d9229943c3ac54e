"""Tests for djs_toolkit.dummy.truth: the truth files agree with the extract and with each other."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.linkage import LINKED
from djs_toolkit.dummy.truth import COHORT_TYPES, COMMON_WINDOW, DEFINITIONS
from djs_toolkit.schema import DATASETS


def test_truth_files_and_config(tiny_extract_dir: Path) -> None:
    t = tiny_extract_dir / "truth"
    assert {p.name for p in t.iterdir()} >= {
        "README.md",
        "config.json",
        "person_map.parquet",
        "persons.parquet",
        "index_events.parquet",
        "reentry_log_hr.csv",
        "reentry_cif_1y.csv",
        "overlap_counts.csv",
    }
    meta = json.loads((t / "config.json").read_text(encoding="utf-8"))
    assert meta["scale"] == "tiny" and meta["seed"] == 0 and meta["persons"] > 4700
    assert meta["config"] == json.loads(json.dumps(DummyConfig().to_json_dict()))
    lh = pd.read_csv(t / "reentry_log_hr.csv")
    assert dict(zip(lh.covariate, lh.log_hr)) == DummyConfig().reentry_log_hr
    assert set(lh.covariate) == set(DEFINITIONS)
    assert all(k in (t / "README.md").read_text(encoding="utf-8") for k in DEFINITIONS)


def test_person_map_covers_every_linked_row(tiny_extract_dir: Path) -> None:
    pm = pd.read_parquet(tiny_extract_dir / "truth" / "person_map.parquet")
    link = pd.read_parquet(tiny_extract_dir / "xjs_link.parquet")
    assert len(pm) == len(link)
    assert set(zip(pm.source_dataset, pm.row_id_hash)) == set(zip(link.source_dataset, link.row_id_hash))
    persons = pd.read_parquet(tiny_extract_dir / "truth" / "persons.parquet")
    assert set(pm.true_person_id) <= set(persons.true_person_id)


def test_overlap_counts_match_true_memberships_in_the_common_window(tiny_extract_dir: Path) -> None:
    """Recompute memberships from the files joined to truth, as an overlap module would on true ids."""
    assert COMMON_WINDOW[0] < COMMON_WINDOW[1]
    pm = pd.read_parquet(tiny_extract_dir / "truth" / "person_map.parquet")
    lo, hi = pd.Timestamp("2014-01-01"), pd.Timestamp("2020-12-31")
    member = {}
    dates = {
        "mags_hocas": ("mags_defendant_case", "first_hearing_date"),
        "crown_xhibit": ("crown_defendant_case", "receipt_date"),
        "probation_delius": ("probation_flatfile", "referral_date"),
    }
    for lab, (table, col) in dates.items():
        df = pd.read_parquet(tiny_extract_dir / f"{table}.parquet", columns=["row_id_hash", col])
        df = df[(pd.to_datetime(df[col]) >= lo) & (pd.to_datetime(df[col]) <= hi)]
        member[lab] = set(pm[pm.source_dataset == lab].merge(df, on="row_id_hash").true_person_id)
    ov = pd.read_csv(tiny_extract_dir / "truth" / "overlap_counts.csv")
    assert list(ov.columns) == [*LINKED, "n_persons"]
    for lab in dates:
        assert ov.loc[ov[lab] == 1, "n_persons"].sum() == len(member[lab]), lab
    both = ov.loc[(ov.mags_hocas == 1) & (ov.probation_delius == 1), "n_persons"].sum()
    assert both == len(member["mags_hocas"] & member["probation_delius"])
    assert set(LINKED) == set(DATASETS)


def test_cif_table_matches_the_index_events(tiny_extract_dir: Path) -> None:
    cif = pd.read_csv(tiny_extract_dir / "truth" / "reentry_cif_1y.csv")
    assert set(cif.cohort_type) == set(COHORT_TYPES)
    ix = pd.read_parquet(tiny_extract_dir / "truth" / "index_events.parquet")
    ix = ix[(ix.index_date >= pd.Timestamp("2014-01-01").date()) & (ix.index_date <= pd.Timestamp("2019-12-31").date())]
    rel = ix[ix.index_type == "release"]
    days = (pd.to_datetime(rel.next_offence_date) - pd.to_datetime(rel.index_date)).dt.days
    row = cif[(cif.cohort_type == "release") & (cif.population == "all_indexes")].iloc[0]
    assert row.n == len(rel)
    assert abs(row.cif_365 - (days <= 365).mean()) < 1e-6
    assert (cif.proven_365 <= cif.cif_365 + 1e-9).all()
    short = cif[(cif.cohort_type == "release_short_custody") & (cif.population == "first_per_person")].iloc[0]
    court = cif[(cif.cohort_type == "court_disposal") & (cif.population == "first_per_person")].iloc[0]
    assert short.cif_365 > court.cif_365  # short sentences reoffend most (docs/data.md §13.3)


def test_recorded_attributes_and_cohort_truth_read_only_records_up_to_the_index(tiny_extract_dir: Path) -> None:
    """Which table records which attribute, and the cohort truth's sex at index from those records by hand."""
    t = tiny_extract_dir / "truth"
    rec = pd.read_csv(t / "recorded_attributes.csv", keep_default_na=False).set_index("dataset")
    assert set(rec.index) == set(DATASETS)
    assert (rec.loc["civil_caseman_pcol", ["sex", "ethnicity", "imd_decile", "age"]] == "").all()
    assert rec.loc["familyman", "sex"] == "gender" and rec.loc["familyman", "imd_decile"] == ""
    co = pd.read_parquet(t / "cohort_index_events.parquet")
    assert set(co["index_type"]) == {"possession_claim", "family_case"}
    assert set(co["sex_at_index"]) <= {"F", "M", "Missing"}
    # By hand: every written record with a valid sex, dated when it comes into being, under its true person.
    pm = pd.read_parquet(t / "person_map.parquet")
    recs = []
    for ds, table, date in (
        ("mags_hocas", "mags_defendant_case", "first_hearing_date"),
        ("crown_xhibit", "crown_defendant_case", "receipt_date"),
        ("prison_nomis", "prison_journey", "journey_start_date"),
        ("probation_delius", "probation_flatfile", "referral_date"),
    ):
        f = pd.read_parquet(tiny_extract_dir / f"{table}.parquet", columns=["row_id_hash", date, "gender"])
        if table == "mags_defendant_case":
            fr = pd.read_parquet(tiny_extract_dir / f"{table}.parquet", columns=["final_result_date"])
            f[date] = f[date].fillna(fr["final_result_date"])
        recs.append(f.rename(columns={date: "known"}).assign(source_dataset=ds))
    fp = pd.read_parquet(
        tiny_extract_dir / "family_parties.parquet", columns=["row_id_hash", "case_number_hash", "gender"]
    )
    fc = pd.read_parquet(tiny_extract_dir / "family_cases.parquet", columns=["case_number_hash", "case_start_date"])
    fp = fp.merge(fc, on="case_number_hash").rename(columns={"case_start_date": "known"})
    recs.append(fp[["row_id_hash", "known", "gender"]].assign(source_dataset="familyman"))
    r = pd.concat(recs).merge(pm, on=["source_dataset", "row_id_hash"])
    r = r[r["gender"].isin(["M", "F"]) & r["known"].notna()]
    first = r.groupby("true_person_id")["known"].min()
    known_by = pd.to_datetime(co["true_person_id"].map(first))
    has = known_by.notna() & (known_by <= pd.to_datetime(co["index_date"]))
    assert ((co["sex_at_index"] != "Missing") == has).all()
    # Most possession-claim defendants have no sex on record at the claim: civil records hold none.
    poss = co[co["index_type"] == "possession_claim"]
    assert 0.3 < (poss["sex_at_index"] == "Missing").mean() < 0.9
