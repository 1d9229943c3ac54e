"""Every parameter of the dummy Data First generator, in one documented dataclass.

Volumes are given per year (or quarter) *per 10 million simulated persons*: at the ``national``
scale (10 M persons) they are the real extract's volumes (docs/data.md §13); smaller scales get
the same rates, so a ``small`` extract is a 1 % sample of the national one.

Numbers carry their source: a docs/data.md section where a published figure exists, ``[assumption]``
where none does (these are configurable on purpose, docs/data.md §13.6).

Example:
    >>> from djs_toolkit.dummy.config import DummyConfig, SCALES
    >>> SCALES["tiny"].persons
    4700
    >>> DummyConfig().reentry_log_hr["index_release"]
    0.2
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from djs_toolkit.errors import DJSUserError

__all__ = ["SCALES", "DummyConfig", "Scale", "scale_of"]

PER = 10_000_000  # volumes below are per this many simulated persons (the national scale)


@dataclass(frozen=True)
class Scale:
    """Size of an extract.

    Args:
        name: scale label.
        persons: simulated adult-population persons (children created by family cases come on top).
        chunk: persons simulated and written together; more than one chunk gives multi-part files.

    Example:
        >>> SCALES["national"].persons // SCALES["national"].chunk
        25
    """

    name: str
    persons: int
    chunk: int


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", 4_700, 4_700),
    "small": Scale("small", 94_000, 94_000),
    "medium": Scale("medium", 940_000, 235_000),
    "national": Scale("national", 9_400_000, 376_000),
}


def scale_of(name: str) -> Scale:
    """The `Scale` called ``name``; a `DJSUserError` naming the valid scales otherwise.

    Example:
        >>> scale_of("small").persons
        94000
    """
    if name not in SCALES:
        raise DJSUserError(f"Unknown scale {name!r}: use one of {', '.join(SCALES)}.")
    return SCALES[name]


@dataclass(frozen=True)
class DummyConfig:
    """All generator parameters. Defaults reproduce the calibration targets in docs/data.md §13.

    Population
        sim_start: careers are simulated from this date, so histories (and prison journeys begun
            before 2011, docs/data.md §5) exist when the extract windows open.
        birth_years: range of birth years of the adult population.
        p_female: share of women in the simulated population.
        p_wales: share living in Wales (Welsh LSOAs have no English IMD decile, docs/data.md §14.5).
        imd_weights: relative chance of living in IMD decile 1..10 (justice users are concentrated in
            deprived areas, docs/data.md §13.2 "over-represented in the most deprived IMD areas") [assumption].
        crim_class_p: shares of latent criminal-propensity classes none/low/medium/high.
        crim_class_mult: first-offence hazard multiplier of each class (the only latent frailty: it
            decides who *enters*; re-entry hazards use observable covariates only).
        female_class_shift: women are moved this far (in class-probability units) towards the
            no-offending class, so about a quarter of defendants are women.

    First offence (onset)
        first_rate_per_year: onset hazard at peak age for class multiplier 1.
        first_log_hr: log hazard ratios of onset: recent possession claim, recent family case as an adult
            party, most-deprived quintile, female.

    Re-entry (after each court disposal, probation start or release: the self-exciting process)
        weibull_shape / weibull_scale_days / weibull_delay_days: baseline hazard on street time t since
            the index, h0(t) = hW(t + delay) with hW the Weibull(shape, scale) hazard: highest at the
            index, decreasing, finite at t = 0 (careers.py).
        reentry_log_hr: true log hazard ratios, covariates named as in ``truth/reentry_log_hr.csv``.
        lookback_days: look-back for prior contacts, possession claims and family cases.

    Case processing
        p_sent_crown_tew: triable-either-way cases sent to the Crown Court.
        p_committal_for_sentence: either-way convictions in the magistrates' court committed to the Crown for sentence.
        p_convicted_mags / p_convicted_crown: conviction probabilities.
        p_remand_mags / p_remand_crown: remanded in custody pending disposal.
        p_recall: released on licence and recalled (merged into the same journey, docs/data.md §5).
        p_breach: community orders and suspended sentences with breach proceedings.
        extra_cases_mean: mean number of further magistrates' cases opened for offences committed on
            the same day as a contact (separate case numbers for one incident) [assumption]; they
            share the contact's offence date, so they are not new contacts.
        p_extra_case_later: share of those further cases first heard 1-17 weeks after the main one
            (they are returns to court in the data, as bail offences are).

    Family and civil volumes (per year per 10 M persons unless said)
        family_cases_per_year: by case type [assumption scaled to Cafcass/FCS orders of magnitude, docs/data.md §13.4].
        p_public_law_return: probability a mother in care proceedings returns with a new case
            (targets 24 % observed, Broadhurst et al. 2015, docs/data.md §13.4).
        landlord_claims_per_quarter / mortgage_claims_per_quarter: §13.5 (Q4 2023 - Q4 2024 levels).
        landlord_type_p: social / private / accelerated mix (docs/data.md §13.5, Q3 2024).
        money_claims_per_year: money claims against individuals [assumption; no figure in §13].

    Planted pathways (`djs_toolkit.dummy.pathways`, truth in ``truth/pathways.csv``; docs/data.md §13.7)
        pathway_rates: [assumption] probabilities, no published figure: ``fine_possession`` (an adult's
            magistrates' fine is followed by a possession claim against them within 14-365 days),
            ``possession_crime`` / ``family_crime`` (a possession-claim defendant / a Family Law Act or
            private law adult party not offending yet starts offending within 300 days), ``care_custody``
            (a child in care proceedings not offending yet starts offending 30-1,095 days after the later
            of the case start and age 15). 0 turns a pathway off.

    Planted family-court effect (`djs_toolkit.dummy.family_effect`, truth in ``truth/family_effect.csv``)
        family_effect_log_hr: [assumption] log hazard ratio of a first criminal offence after a supervision order
            against a care order, for children aged 10-17 at the end of public-law proceedings (no published figure).
        family_effect_rate_per_year: [assumption] that hazard under a care order at age 13, a boy, no prior contact.
        family_effect_outcome_log_hr: [assumption] log hazard ratios of age (per year above 13), female, one and two
            or more prior contacts in 730 days.
        family_effect_propensity: [assumption] logistic model of a supervision order (rather than a care order) in
            the same terms: riskier children get care orders more often, so a naive comparison is confounded.

    Linkage error (docs/data.md §1.5, §10; rates are [assumption])
        split_rate / merge_rate: within-dataset false splits (record gets a second identity) and false
            merges (two people get one id), by dataset; family and civil worse.
        role_split_mult: multiplier of the split rate for children and respondents (UG82).
        xjs_split_rate / xjs_merge_rate: the same for the cross-justice ``estimated_xjs_id``.

    Data-quality defects (docs/data.md §14)
        missing_rate: default share of missing values in nullable columns; ``missing_overrides`` per
            ``table.column``.
        p_ethnicity_missing_code: probation rows with `Refusal`, `Z_Dummy ...` or `""` (docs/data.md §9.2).
        p_age_outlier: rows with an implausible age (§14.4).
        p_duplicate_event: probation flatfile rows duplicated on `event_id_hash` (docs/data.md §14.1).
        p_non_criminal: magistrates' rows that are non-criminal matters (§3, §14.9).
        mags_coverage / crown_coverage: share of cases kept after the Common Platform cliff by half year.

    Example:
        >>> cfg = DummyConfig(p_recall=0.3)
        >>> cfg.to_json_dict()["p_recall"]
        0.3
    """

    # ---------------------------------------------------------------- population
    sim_start: dt.date = dt.date(2006, 1, 1)
    birth_years: tuple[int, int] = (1945, 2010)
    p_female: float = 0.5
    p_wales: float = 0.055
    imd_weights: tuple[float, ...] = (2.2, 1.8, 1.5, 1.25, 1.05, 0.9, 0.8, 0.7, 0.6, 0.55)
    crim_class_p: tuple[float, float, float, float] = (0.05, 0.30, 0.35, 0.30)
    crim_class_mult: tuple[float, float, float, float] = (0.0, 0.25, 1.0, 3.0)
    female_class_shift: float = 0.45

    # ---------------------------------------------------------------- onset
    first_rate_per_year: float = 1.0
    first_log_hr: dict[str, float] = field(
        default_factory=lambda: {
            "prior_possession_claim_730d": 0.7,  # [assumption] docs/data.md §13.6: no published figure
            "prior_family_case_730d": 0.5,  # [assumption] incl. Family Law Act respondents
            "imd_most_deprived_quintile": 0.3,
            "female": -0.5,
        }
    )

    # ---------------------------------------------------------------- re-entry
    # The baseline's cumulative hazard grows like a Weibull of shape 0.8-0.9 over the first month (the
    # re-entry shape of docs/methods.md §1, "hazard highest just after release"), 0.5 at one
    # year and 0.4 at eight (the hazard falls to 62 % of its index-day level by day 30, 17 % by day
    # 365), so one-year rates (docs/data.md §13.3) and eight-year returns (§13.2, MOJ-RET: 56 %
    # return, 18 % six or more times) hold together without an unobserved frailty. About 5 % of the
    # re-entries within a year fall on day 1 and 23 % in the first week; the former plain Weibull
    # (shape 0.4, scale 13e6) put 38 % on day 1 and 56 % in the first week. [calibration] shape, delay
    # and scale were chosen together on the small extract against the tests/dummy/test_careers.py
    # targets. A plain Weibull of shape 0.7-0.9 met none of the scales tried: with the one-year
    # hazard kept, returns by 2019 rose to 70-77 % (limit 63 %) and short-custody proven reoffending
    # fell to 42-48 % (limit 50 %); larger scales lowered returns only with one-year rates far below
    # target. The 30-day delay itself is an [assumption].
    weibull_shape: float = 0.3
    weibull_scale_days: float = 50_000_000.0
    weibull_delay_days: float = 30.0
    reentry_log_hr: dict[str, float] = field(
        default_factory=lambda: {
            "female": -0.35,
            "age_10_17": 0.45,
            "age_18_24": 0.30,
            "age_35_49": -0.20,
            "age_50_plus": -0.75,
            "log1p_prior_contacts_730d": 3.2,
            "index_release": 0.20,
            "index_probation_start": -0.60,
            "imd_most_deprived_quintile": 0.25,
            "prior_possession_claim_730d": 0.40,  # [assumption] docs/data.md §13.6
            "prior_family_case_730d": 0.30,  # [assumption]
        }
    )
    lookback_days: int = 730

    # ---------------------------------------------------------------- case processing
    p_sent_crown_tew: float = 0.16
    p_committal_for_sentence: float = 0.08
    p_convicted_mags: float = 0.84
    p_convicted_crown: float = 0.80
    p_remand_mags: float = 0.02
    p_remand_crown: float = 0.30
    p_recall: float = 0.22
    p_breach: float = 0.15
    extra_cases_mean: float = 0.8
    p_extra_case_later: float = 0.3

    # ---------------------------------------------------------------- family and civil volumes
    family_cases_per_year: dict[str, float] = field(
        default_factory=lambda: {
            "Public law": 16_000,
            "Private law": 45_000,
            "Matrimonial": 95_000,
            "Financial remedy": 30_000,
            "Family Law Act": 20_000,
            "Forced marriage protection": 150,
            "FGM protection": 60,
            "Adoption": 5_000,
        }
    )
    p_public_law_return: float = 0.24
    landlord_claims_per_quarter: float = 24_000.0
    mortgage_claims_per_quarter: float = 5_000.0
    landlord_type_p: tuple[float, float, float] = (0.36, 0.31, 0.33)
    money_claims_per_year: float = 250_000.0
    other_claims_per_year: float = 15_000.0

    # ---------------------------------------------------------------- planted pathways [assumption]
    pathway_rates: dict[str, float] = field(
        default_factory=lambda: {
            "fine_possession": 0.03,
            "possession_crime": 0.08,
            "family_crime": 0.05,
            "care_custody": 0.5,
        }
    )

    # ---------------------------------------------------------------- planted family-court effect [assumption]
    family_effect_log_hr: float = -0.3
    family_effect_rate_per_year: float = 0.15
    family_effect_outcome_log_hr: dict[str, float] = field(
        default_factory=lambda: {"age_minus_13": 0.12, "female": -0.6, "prior_1": 0.9, "prior_2_plus": 1.5}
    )
    family_effect_propensity: dict[str, float] = field(
        default_factory=lambda: {
            "intercept": -0.6,
            "age_minus_13": -0.2,
            "female": 0.5,
            "prior_1": -1.0,
            "prior_2_plus": -1.8,
        }
    )

    # ---------------------------------------------------------------- linkage error
    split_rate: dict[str, float] = field(
        default_factory=lambda: {
            "mags_hocas": 0.015,
            "crown_xhibit": 0.012,
            "prison_nomis": 0.010,
            "probation_delius": 0.012,
            "familyman": 0.05,
            "civil_caseman_pcol": 0.07,
        }
    )
    merge_rate: dict[str, float] = field(
        default_factory=lambda: {
            "mags_hocas": 0.004,
            "crown_xhibit": 0.003,
            "prison_nomis": 0.003,
            "probation_delius": 0.004,
            "familyman": 0.012,
            "civil_caseman_pcol": 0.015,
        }
    )
    role_split_mult: dict[str, float] = field(default_factory=lambda: {"Child": 2.5, "Respondent": 1.6})
    xjs_split_rate: dict[str, float] = field(
        default_factory=lambda: {
            "mags_hocas": 0.015,
            "crown_xhibit": 0.015,
            "prison_nomis": 0.012,
            "probation_delius": 0.015,
            "familyman": 0.07,
            "civil_caseman_pcol": 0.09,
        }
    )
    xjs_merge_rate: float = 0.004

    # ---------------------------------------------------------------- defects
    missing_rate: float = 0.01
    missing_overrides: dict[str, float] = field(
        default_factory=lambda: {
            "mags_defendant_case.offence_date": 0.02,
            "mags_defendant_case.lsoa_residence": 0.06,
            "mags_defendant_case.ethnicity": 0.12,
            "crown_defendant_case.lsoa_residence": 0.05,
            "probation_rqmnts.rqmnt_commencement_date": 0.45,
            "probation_flatfile.lsoa_residence": 0.04,
            "family_parties.gender": 0.04,
            "family_parties.age_at_case_start": 0.05,
            "prison_journey.ethnicity": 0.03,
            "civil_cases.claim_amount": 0.08,
        }
    )
    p_ethnicity_missing_code: float = 0.07
    p_age_outlier: float = 0.0005
    p_duplicate_event: float = 0.012
    p_non_criminal: float = 0.03
    mags_coverage: dict[str, float] = field(
        default_factory=lambda: {
            "2021H1": 0.65,
            "2021H2": 0.40,
            "2022H1": 0.25,
            "2022H2": 0.15,
            "2023H1": 0.10,
        }
    )
    crown_coverage: dict[str, float] = field(
        default_factory=lambda: {
            "2021H2": 0.75,
            "2022H1": 0.55,
            "2022H2": 0.40,
            "2023H1": 0.30,
        }
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values (dates as ISO strings, tuples as lists).

        Example:
            >>> DummyConfig().to_json_dict()["sim_start"]
            '2006-01-01'
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, dt.date):
                v = v.isoformat()
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    def without_linkage_error(self) -> DummyConfig:
        """The same configuration with no false splits or merges, within datasets or across them: every record keeps
        its person (for tests and benches that compare an estimate with its truth apart from linkage error).

        Example:
            >>> c = DummyConfig().without_linkage_error()
            >>> max(c.split_rate.values()), max(c.xjs_split_rate.values()), c.xjs_merge_rate
            (0.0, 0.0, 0.0)
        """
        return dataclasses.replace(
            self,
            split_rate=dict.fromkeys(self.split_rate, 0.0),
            merge_rate=dict.fromkeys(self.merge_rate, 0.0),
            xjs_split_rate=dict.fromkeys(self.xjs_split_rate, 0.0),
            xjs_merge_rate=0.0,
        )
