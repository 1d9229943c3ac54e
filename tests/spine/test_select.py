"""Event selectors on a hand-built extract whose answer is known person by person, the string syntax and its
errors."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from djs_toolkit import DJSUserError, open_extract, spine
from djs_toolkit.spine import Selector, as_selector, parse_selector, select
from tests.helpers import empty_tables, rows_of, write_extract

D = dt.date.fromisoformat


def _mags(rid, person_age, disposal, proceedings="Criminal", group="Theft offences", day="2015-03-01"):
    return {
        "row_id_hash": rid,
        "case_id_hash": "c" + rid,
        "first_hearing_date": D(day),
        "final_result_date": D(day) + dt.timedelta(days=30),
        "offence_date": D(day),
        "disposal_type": disposal,
        "proceedings_type_desc": proceedings,
        "gender": "M",
        "age_at_offence": person_age,
        "offence_group": group,
    }


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    t = empty_tables()
    # Magistrates: F1 fined at 30 (theft), F2 fined at 17 (breach), C1 community sentence at 40 (violence),
    # A1 acquitted at 25.
    t["mags_defendant_case"] = rows_of(
        "mags_defendant_case",
        [
            _mags("mF1", 30, "Fine"),
            _mags("mF2", 17, "Fine", proceedings="Breach"),
            _mags("mC1", 40, "Community sentence", group="Violence against the person"),
            _mags("mA1", 25, "Dismissed or acquitted"),
        ],
    )
    # Family: case p1 (public law) with child K (age 12) and respondent parent R (age 35); case p2 (public law) with
    # child K2 (age 4); case q1 (private law) with applicant P (age 40) and child K3 (age 8); case l1 (Family Law
    # Act) with applicant V (age 17) and respondent W (age unknown).
    t["family_cases"] = rows_of(
        "family_cases",
        [
            {
                "case_number_hash": c,
                "case_type": ct,
                "case_start_date": D("2016-01-01"),
                "case_end_date": D("2016-06-01"),
            }
            for c, ct in (("p1", "Public law"), ("p2", "Public law"), ("q1", "Private law"), ("l1", "Family Law Act"))
        ],
    )
    t["family_parties"] = rows_of(
        "family_parties",
        [
            {"row_id_hash": r, "case_number_hash": c, "party_role": role, "gender": "F", "age_at_case_start": age}
            for r, c, role, age in (
                ("fK", "p1", "Child", 12),
                ("fR", "p1", "Respondent", 35),
                ("fK2", "p2", "Child", 4),
                ("fP", "q1", "Applicant", 40),
                ("fK3", "q1", "Child", 8),
                ("fV", "l1", "Applicant", 17),
                ("fW", "l1", "Respondent", None),
            )
        ],
    )
    t["family_events"] = rows_of("family_events", [])
    # Civil: claim v1 (landlord possession): defendant T, claimant individual L, a party without a role N;
    # claim v2 (mortgage possession): defendant M; claim v3 (money): defendant T again.
    t["civil_cases"] = rows_of(
        "civil_cases",
        [
            {"case_number_hash": c, "claim_type": ct, "issue_date": D("2017-02-02")}
            for c, ct in (("v1", "Landlord possession"), ("v2", "Mortgage possession"), ("v3", "Money (specified)"))
        ],
    )
    t["civil_parties"] = rows_of(
        "civil_parties",
        [
            {"row_id_hash": r, "case_number_hash": c, "party_type": "Individual", "party_role": role}
            for r, c, role in (
                ("vT", "v1", "Defendant"),
                ("vL", "v1", "Claimant"),
                ("vN", "v1", None),
                ("vM", "v2", "Defendant"),
                ("vT3", "v3", "Defendant"),
            )
        ],
    )
    t["civil_events"] = rows_of("civil_events", [])
    people = {
        "mF1": "F1",
        "mF2": "F2",
        "mC1": "C1",
        "mA1": "A1",
        "fK": "K",
        "fR": "R",
        "fK2": "K2",
        "fP": "P",
        "fK3": "K3",
        "fV": "V",
        "fW": "W",
        "vT": "T",
        "vL": "L",
        "vN": "N",
        "vM": "M",
        "vT3": "T",
    }
    ds = {"m": "mags_hocas", "f": "familyman", "v": "civil_caseman_pcol"}
    t["xjs_link"] = pd.DataFrame(
        [(ds[r[0]], r, p) for r, p in people.items()], columns=["source_dataset", "row_id_hash", "estimated_xjs_id"]
    )
    return open_extract(write_extract(tmp_path_factory.mktemp("select"), tables=t))


def _people(extract, sel) -> list[str]:
    """The people with a selected event, by SQL on the spine and by the pandas mask (they must agree)."""
    spine.build_spine(extract)
    s = as_selector(sel)
    by_sql = extract.engine.con.sql(f"SELECT DISTINCT person_id FROM _spine WHERE {s.sql()} ORDER BY 1").fetchall()
    ev = spine.person_events(extract)
    by_mask = sorted(set(ev.loc[s.mask(ev), "person_id"]))
    assert [r[0] for r in by_sql] == by_mask
    return by_mask


@pytest.mark.parametrize(
    ("sel", "people"),
    [
        ("mags_conviction", ["C1", "F1", "F2"]),  # an acquittal is no conviction
        ("mags_conviction: disposal=Fine", ["F1", "F2"]),
        ("mags_conviction: disposal=fine", ["F1", "F2"]),  # case-insensitive, stored as the code list spells it
        ("mags_case: case_type=Criminal; disposal=Fine", ["F1"]),
        ("mags_hocas: offence_group=Violence against the person", ["C1"]),
        ("mags_case: disposal=Fine,Dismissed or acquitted; age=18+", ["A1", "F1"]),
        ("mags_case: age=-17", ["F2"]),
        ("mags_case: age=25", ["A1"]),
        ("family_case_start: case_type=Public law; party_role=Child", ["K", "K2"]),
        ("family_case_start: case_type=Public law; party_role=Child; age=10-17", ["K"]),
        ("family_case_start: party_role=Applicant,Respondent; case_type=Family Law Act,Private law", ["P", "V", "W"]),
        ("family_case_start: party_role=Applicant,Respondent; case_type=Family Law Act,Private law; age=18+", ["P"]),
        ("familyman: age=0-9", ["K2", "K3"]),
        ("civil_claim", ["L", "M", "N", "T"]),
        ("civil_claim: party_role=Defendant", ["M", "T"]),
        ("civil_claim: party_role=Defendant; case_type=Landlord possession", ["T"]),
        ("civil_claim: party_role=Defendant; case_type=Landlord possession,Mortgage possession", ["M", "T"]),
        ("civil_claim: case_type=Money (specified)", ["T"]),
    ],
)
def test_each_filter_selects_the_known_people(known, sel, people):
    assert _people(known, sel) == people


def test_select_and_its_string_are_one_selector(known):
    s = select("civil_claim", case_type=["Landlord possession", "Mortgage possession"], party_role="Defendant")
    assert str(s) == "civil_claim: case_type=Landlord possession,Mortgage possession; party_role=Defendant"
    assert parse_selector(str(s)) == s
    # Any order and spacing in, one canonical string out.
    messy = " civil_claim :party_role= defendant;case_type=Landlord possession , Mortgage possession"
    assert parse_selector(messy) == s
    care = select("family_case_start", age=(0, 17), party_role="Child", case_type="Public law")
    assert str(care) == "family_case_start: case_type=Public law; party_role=Child; age=0-17"
    for text in ("mags_conviction: disposal=Fine", "familyman: age=18+", "mags_case: age=-17", "crown_xhibit"):
        assert str(parse_selector(text)) == text
        assert parse_selector(str(parse_selector(text))) == parse_selector(text)
    assert parse_selector("mags_case: age=25").age == (25, 25)
    assert select("familyman", age="18+") == parse_selector("familyman: age=18+")
    assert as_selector(s) is s and as_selector("crown_case") == Selector("crown_case")
    assert s.dataset == "civil_caseman_pcol" and not s.is_plain and as_selector("crown_case").is_plain
    assert s.describe() == "civil claim (case type Landlord possession or Mortgage possession; party role Defendant)"
    assert care.describe() == "family court case (case type Public law; party role Child; aged 0-17 at the case start)"
    assert as_selector("familyman").describe() == "Family court event"
    assert len(care.caveats()) == 2 and as_selector("release").caveats() == ()


def test_values_are_quoted_never_spliced():
    s = select("probation_start", disposal="O'Brien order")
    assert s.sql() == "(event_type = 'probation_start' AND disposal IN ('O''Brien order'))"
    assert s.sql("s.").startswith("(s.event_type = ") and "s.disposal IN" in s.sql("s.")
    with pytest.raises(DJSUserError, match="cannot hold"):
        select("probation_start", disposal="x; DROP TABLE _spine")
    # a Selector built by hand is held to the same rules (its age bounds go into the SQL as numbers)
    with pytest.raises(DJSUserError, match="`age` takes"):
        Selector("familyman", age=("0 OR 1=1", None))  # type: ignore[arg-type]
    with pytest.raises(DJSUserError, match=r"build it with spine\.select"):
        Selector("civil_claim", (("party_role", ("defendant",)),))  # not as the code list spells it
    with pytest.raises(DJSUserError, match="neither a dataset label"):
        Selector("civil_claim'; --")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mags_conviction: disposal=Fines", "valid values are Immediate custody, Suspended sentence order"),
        ("mags_conviction: disposal=Dismissed or acquitted", "valid values are Immediate custody"),
        ("mags_conviction: dispoal=Fine", "valid columns are case_type (Criminal, Breach, Non-criminal); disposal ("),
        ("civil_claim: age=18+", "valid columns are case_type (Money (specified)"),
        ("civil_claim: party_role=Tenant", "valid values are Claimant, Defendant"),
        ("possession_order: party_role=Claimant", "valid values are Defendant"),
        ("court_case: disposal=Fine", "neither a dataset label nor an event type: datasets are mags_hocas"),
        ("mags_conviction: disposal", "is not `column=value`"),
        ("familyman: age=17-3", "the lower end must come first"),
        ("familyman: age=old", "is not lo-hi, lo+ or -hi"),
        ("familyman: age=18+; age=20-30", "given twice"),
        ("", "empty selector"),
    ],
)
def test_a_bad_selector_says_what_is_valid(text, says):
    with pytest.raises(DJSUserError, match=None) as err:
        parse_selector(text)
    assert says in str(err.value)


def test_select_refuses_bad_arguments():
    with pytest.raises(DJSUserError, match="lo, hi"):
        select("familyman", age=17)
    with pytest.raises(DJSUserError, match="text values"):
        select("civil_claim", party_role=[])
    with pytest.raises(DJSUserError, match="not by type int"):
        as_selector(3)  # type: ignore[arg-type]
