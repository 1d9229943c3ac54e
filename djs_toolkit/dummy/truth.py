"""Ground truth written to ``out_dir/truth/`` (never read by analyses; the loader ignores it).

Files (Parquet ones come in two-digit parts ``_01``... when the extract is multi-part):

* ``README.md``: this description and the covariate definitions.
* ``config.json``: scale, seed, persons and every `DummyConfig` parameter.
* ``person_map.parquet``: ``source_dataset``, ``row_id_hash``, ``true_person_id`` for every person-record of
  the six person tables (civil organisations have no person and no row here).
* ``persons.parquet``: ``true_person_id``, ``sex``, ``birth_date``, ``ethnicity``, ``region``, ``wales``,
  ``imd_decile`` (true, also for Wales), ``crim_class`` (latent), ``child_party``.
* ``index_events.parquet``: every simulated re-entry index event, error-free: ``true_person_id``,
  ``index_date``, ``index_type`` (court_disposal / release / probation_start), the covariates,
  ``sentence_days``, ``next_offence_date`` (null if none before the extract end).
* ``reentry_log_hr.csv``: ``covariate``, ``log_hr``, ``definition``: the true log hazard ratios.
* ``reentry_cif_1y.csv``: ``cohort_type``, ``population`` (all_indexes / first_per_person), ``n``,
  ``cif_365`` (next offence within 365 days), ``proven_365`` (... and convicted by day 365 + 183),
  from the error-free careers, index dates in 2014-01-01..2019-12-31 (no censoring before 2021).
  ``release`` counts every simulated release; ``release_nomis`` only those the prisoner custodial
  journeys can hold (received at 15 or older: younger children are held in secure training centres
  and secure schools, outside P-NOMIS), the population a cohort built from the data estimates.
* ``overlap_counts.csv``: one 0/1 column per dataset label and ``n_persons``: true persons by exact
  combination of datasets with a record dated in the common window 2014-01-01..2020-12-31.
* ``recorded_attributes.csv``: ``dataset``, ``table`` and the column holding ``sex``, ``ethnicity``, ``imd_decile``
  and ``age`` in it (empty: not recorded), ``known_from`` (the date a record exists from) and ``age_refers_to``.
* ``cohort_index_events.parquet``: every possession claim against an individual defendant and every adult
  applicant or respondent in a family case the files hold: ``true_person_id``, ``index_type``, ``index_date``, the
  covariates as the person's written records dated on or before the index say them (``sex_at_index`` F / M /
  Missing, ``imd_decile_at_index``, ``age_at_index`` (true age, null where no record holds one),
  ``prior_contacts_730d``, ``prior_possession_claim_730d``, ``prior_family_case_730d``) and ``next_offence_date``
  (`cohort_truth`).
* ``family_effect.csv`` and ``family_effect_children.parquet``: the planted effect of a supervision order against a
  care order on children's first criminal offence after public-law proceedings (`family_effect`): the conditional
  log hazard ratio, marginal risks, their difference and ratio at 1-3 years and the marginal hazard ratio for the
  eligible (``ate``) and overlap (``ato``) populations; per eligible child the covariates at time zero, the order,
  its propensity and both hazards.
* ``pathways.csv``: the planted cross-jurisdiction pathways (`pathways`): ``name``, ``first`` and ``then`` (the
  `spine.select` strings of the index and outcome events), ``within_days``, ``window_start``, ``window_end`` (index
  dates), ``rate`` and ``planted_rate`` (`DummyConfig.pathway_rates`), ``numerator``, ``denominator`` and ``share``:
  of the true persons with a ``first`` event in the window, those whose first one is followed by a ``then`` event
  within the days, from the records before linkage error (follow-up complete, so ``analyses.ordered_overlap``
  estimates the share).

Example:
    >>> from djs_toolkit.dummy.truth import COHORT_TYPES
    >>> COHORT_TYPES[:3]
    ('court_disposal', 'release', 'probation_start')
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from djs_toolkit.dummy import codes
from djs_toolkit.dummy.careers import COVARIATES, Careers
from djs_toolkit.dummy.casework import INDEX_TYPES
from djs_toolkit.dummy.cohort_truth import RECORDED_ATTRIBUTES, RECORDED_HEADER, cohort_index_events
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, age_years, day, day_of
from djs_toolkit.dummy.frames import Ctx
from djs_toolkit.dummy.linkage import LINKED
from djs_toolkit.dummy.lookback import EventIndex
from djs_toolkit.dummy.pathways import PATHWAYS, pathway_counts, pathway_rows
from djs_toolkit.dummy.writer import part_name, write_table
from djs_toolkit.schema import DATASETS

__all__ = ["COHORT_TYPES", "COMMON_WINDOW", "DEFINITIONS", "REF_WINDOW", "TruthAccumulator"]

COHORT_TYPES = (
    "court_disposal",
    "release",
    "probation_start",
    "release_short_custody",
    "possession_claim",
    "family_case",
    "release_nomis",
)
NOMIS_MIN_AGE = 15  # children under 15 are held outside P-NOMIS (records_custody): no journey record
REF_WINDOW = (day(2014, 1, 1), day(2019, 12, 31))
COMMON_WINDOW = (max(day_of(DATASETS[d].start) for d in LINKED), min(day_of(DATASETS[d].end) for d in LINKED))
DEFINITIONS = {
    "female": "gender == 'F'",
    "age_10_17": "age in whole years at the index date (from the true birth date) 10-17 (reference band 25-34)",
    "age_18_24": "age at the index date 18-24",
    "age_35_49": "age at the index date 35-49",
    "age_50_plus": "age at the index date 50 or more",
    "log1p_prior_contacts_730d": "log(1 + number of the person's distinct offence dates of criminal magistrates' "
    "cases (proceedings_type_desc == 'Criminal') in (index - 730 days, index]), "
    "the index case included",
    "index_release": "index is a prison release (prison_journey.release_date); reference court_disposal",
    "index_probation_start": "index is the start of a community order or suspended sentence "
    "(probation_flatfile.referral_date, disposal not a licence)",
    "imd_most_deprived_quintile": "true imd_decile (persons.parquet) in (1, 2), also for residents of Wales, "
    "whose records have no IMD decile",
    "prior_possession_claim_730d": "defendant in a landlord or mortgage possession claim issued in "
    "(index - 730 days, index]",
    "prior_family_case_730d": "applicant or respondent aged 18 or over at the case start in a family case started "
    "in (index - 730 days, index]",
}
_SEX = np.array(["M", "F"], dtype=object)


class TruthAccumulator:
    """Collects truth chunk by chunk and writes ``truth/``.

    Example:
        >>> from pathlib import Path
        >>> import tempfile
        >>> t = TruthAccumulator(Path(tempfile.mkdtemp()), multipart=False)
        >>> t.overlap.shape
        (64,)
    """

    def __init__(self, truth_dir: Path, multipart: bool) -> None:
        self.dir = truth_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.multipart = multipart
        self.overlap = np.zeros(2 ** len(LINKED), dtype=np.int64)
        self.cif = {
            (c, pop): np.zeros(3, dtype=np.int64) for c in COHORT_TYPES for pop in ("all_indexes", "first_per_person")
        }
        self.pathways = np.zeros((len(PATHWAYS), 2), dtype=np.int64)

    def merge(self, overlap: np.ndarray, cif: dict, pathways: np.ndarray | None = None) -> None:
        """Add another accumulator's counts (a chunk simulated in a worker process)."""
        self.overlap += overlap
        if pathways is not None:
            self.pathways += pathways
        for k, v in cif.items():
            self.cif[k] += v

    def _write(self, name: str, tbl: pa.Table, chunk: int) -> None:
        write_table(tbl, self.dir / part_name(name, chunk + 1 if self.multipart else None, "parquet"), "parquet")

    def add_chunk(
        self,
        ctx: Ctx,
        chunk: int,
        tables: dict,
        person_map: dict,
        careers: Careers,
        poss: tuple[np.ndarray, np.ndarray],
        fam: tuple[np.ndarray, np.ndarray],
        written: dict[str, pa.Table] | None = None,
    ) -> None:
        """Add one chunk's truth (written immediately, so memory stays per chunk); ``written`` holds the person
        tables as written (with their missing values), for `cohort_truth`."""
        ps = ctx.persons
        self._write("person_map", pa.table(person_map), chunk)
        pid = ctx.ids("person", ps.pid)
        self._write(
            "persons",
            pa.table(
                {
                    "true_person_id": pid,
                    "sex": _SEX[ps.sex],
                    "birth_date": pa.array(ps.dob.astype(np.int32)).cast(pa.date32()),
                    "ethnicity": np.array(codes.ETHNICITY_TRUE, dtype=object)[ps.eth],
                    "region": ps.region.astype(np.int64),
                    "wales": ps.wales,
                    "imd_decile": ps.imd.astype(np.int64),
                    "crim_class": ps.crim_class.astype(np.int64),
                    "child_party": ps.child,
                }
            ),
            chunk,
        )
        ix = careers.indexes
        if ix:
            nxt = ix["next_offence"]
            cols = {
                "true_person_id": pid.take(pa.array(ix["person"])),
                "index_date": pa.array(ix["index_date"].astype(np.int32)).cast(pa.date32()),
                "index_type": np.array(INDEX_TYPES, dtype=object)[ix["index_type"]],
            }
            cols.update({k: ix[k] for k in COVARIATES})
            cols["sentence_days"] = ix["sentence_days"].astype(np.int64)
            cols["next_offence_date"] = pa.array(np.where(nxt == NA, 0, nxt).astype(np.int32), mask=nxt == NA).cast(
                pa.date32()
            )
            self._write("index_events", pa.table(cols), chunk)
        if written is not None:
            co = cohort_index_events(written, tables, careers, ps.dob)
            if co is not None:
                nxt = co.pop("next_offence")
                cols = {"true_person_id": pid.take(pa.array(co.pop("person"))), "index_type": co.pop("index_type")}
                cols["index_date"] = pa.array(co.pop("index_date").astype(np.int32)).cast(pa.date32())
                cols["sex_at_index"] = co.pop("sex_at_index")
                for k in ("imd_decile_at_index", "age_at_index"):
                    v = co.pop(k)
                    cols[k] = pa.array(v, mask=v < 0, type=pa.int64())
                cols.update(co)
                cols["next_offence_date"] = pa.array(np.where(nxt == NA, 0, nxt).astype(np.int32), mask=nxt == NA).cast(
                    pa.date32()
                )
                self._write("cohort_index_events", pa.table(cols), chunk)
        self._cif(careers, poss, fam, ps.dob)
        self._overlap(ps.n, tables)
        self.pathways += pathway_counts(tables, ps.dob)

    def _cif(
        self,
        careers: Careers,
        poss: tuple[np.ndarray, np.ndarray],
        fam: tuple[np.ndarray, np.ndarray],
        dob: np.ndarray | None = None,
    ) -> None:
        c, ix = careers.contacts, careers.indexes
        if not ix:
            return
        offences = EventIndex(c["person"], c["offence_date"])
        conv = np.asarray(c["convicted"], bool) & (c["final_date"] != NA)
        convicted = EventIndex(c["person"][conv], c["offence_date"][conv])
        # conviction day of each convicted offence, to apply the six-month waiting period
        ckey = c["person"][conv] * (1 << 21) + c["offence_date"][conv]
        order = np.argsort(ckey, kind="stable")
        ckey_sorted, cday = ckey[order], c["final_date"][conv][order]
        groups = [
            (t, ix["person"][ix["index_type"] == i], ix["index_date"][ix["index_type"] == i])
            for i, t in enumerate(INDEX_TYPES)
        ]
        short = (ix["index_type"] == 1) & (ix["sentence_days"] < 365)
        groups.append(("release_short_custody", ix["person"][short], ix["index_date"][short]))
        groups.append(("possession_claim", *poss))
        groups.append(("family_case", *fam))
        if dob is not None:  # releases the data can hold: journeys received at 15 or older (P-NOMIS)
            go = c["index_type"] >= 0  # index events are the contacts with an index, in the same order
            js = c["journey_start"][go]
            rec_age = np.where(js == NA, -1, age_years(dob[ix["person"]], np.where(js == NA, 0, js)))
            nomis = (ix["index_type"] == 1) & (rec_age >= NOMIS_MIN_AGE)
            groups.append(("release_nomis", ix["person"][nomis], ix["index_date"][nomis]))
        for name, p, d in groups:
            inwin = (d >= REF_WINDOW[0]) & (d <= REF_WINDOW[1])
            p, d = p[inwin], d[inwin]
            nx = offences.next_after(p, d)
            ev = (nx > 0) & (nx - d <= 365)
            nc = convicted.next_after(p, d)
            pos = np.searchsorted(ckey_sorted, p * (1 << 21) + np.maximum(nc, 0))
            cd = cday[np.minimum(pos, max(cday.size - 1, 0))] if cday.size else np.zeros(p.size, np.int64)
            proven = (nc > 0) & (nc - d <= 365) & (cd <= d + 365 + 183)
            self.cif[(name, "all_indexes")] += [p.size, int(ev.sum()), int(proven.sum())]
            o = np.lexsort((d, p))
            first = o[np.r_[True, p[o][1:] != p[o][:-1]]] if p.size else o
            self.cif[(name, "first_per_person")] += [first.size, int(ev[first].sum()), int(proven[first].sum())]

    def _overlap(self, n_persons: int, tables: dict) -> None:
        w0, w1 = COMMON_WINDOW
        bits = np.zeros(n_persons, dtype=np.int64)
        date_of = {
            "mags_hocas": "first_hearing_date",
            "crown_xhibit": "receipt_date",
            "prison_nomis": None,
            "probation_delius": "referral_date",
            "familyman": "_date",
            "civil_caseman_pcol": "_date",
        }
        for i, lab in enumerate(LINKED):
            f = tables.get(DATASETS[lab].person_table)
            if f is None:
                continue
            p = np.asarray(f["_person"])
            if lab == "prison_nomis":
                rel, st = np.asarray(f["release_date"]), np.asarray(f["journey_start_date"])
                d = np.where(rel == NA, np.minimum(st, w1), rel)
            else:
                d = np.asarray(f[date_of[lab]])
            ok = (p >= 0) & (d >= w0) & (d <= w1)
            bits[p[ok]] |= 1 << i
        self.overlap += np.bincount(bits, minlength=self.overlap.size)

    def finish(self, cfg: DummyConfig, meta: dict) -> None:
        """Write the CSV, JSON and README files."""
        self._text("config.json", json.dumps({**meta, "config": cfg.to_json_dict()}, indent=2, sort_keys=True) + "\n")
        self._csv(
            "reentry_log_hr.csv",
            ["covariate", "log_hr", "definition"],
            [[k, repr(float(cfg.reentry_log_hr[k])), DEFINITIONS[k]] for k in COVARIATES],
        )
        rows = []
        for (name, pop), (n, ev, pr) in self.cif.items():
            rows.append([name, pop, int(n), f"{ev / n:.6f}" if n else "", f"{pr / n:.6f}" if n else ""])
        self._csv("reentry_cif_1y.csv", ["cohort_type", "population", "n", "cif_365", "proven_365"], rows)
        orows = [
            [(b >> i) & 1 for i in range(len(LINKED))] + [int(self.overlap[b])]
            for b in range(1, self.overlap.size)
            if self.overlap[b]
        ]
        self._csv("overlap_counts.csv", [*LINKED, "n_persons"], orows)
        prows = pathway_rows(self.pathways, cfg)
        self._csv("pathways.csv", prows[0], prows[1:])
        self._csv("recorded_attributes.csv", list(RECORDED_HEADER), [list(r) for r in RECORDED_ATTRIBUTES])
        self._text("README.md", _readme())

    def _csv(self, name: str, header: list[str], rows: list[list]) -> None:
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        self._text(name, buf.getvalue())

    def _text(self, name: str, text: str) -> None:
        tmp = self.dir / f".{name}.tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        tmp.replace(self.dir / name)


def _readme() -> str:
    defs = "\n".join(f"| `{k}` | {v} |" for k, v in DEFINITIONS.items())
    doc = (__doc__ or "").split("Example:")[0].strip()
    return (
        f"# Ground truth of this dummy extract\n\n{doc}\n\n## Re-entry covariates\n\n"
        "The time from each index event to the next offence (offence_date of the next criminal "
        "magistrates' case) was drawn on street time from a proportional-hazards model with exactly "
        "these covariates and no frailty; its baseline is a Weibull hazard delayed by `weibull_delay_days` "
        "(`config.json`), highest at the index and decreasing. Fit a re-entry cohort with index dates in "
        "2014-2019 (every look-back then lies inside the civil and family windows) and censor at "
        "2020-12-31 (Common Platform cliff) to recover `reentry_log_hr.csv` up to linkage error "
        "(and ages known only in completed years). The same seed and scale with every linkage error "
        "rate of `DummyConfig` set to zero give the same people, careers and records with error-free "
        "estimated ids, which measures what linkage error does to an analysis.\n\n"
        "Times are whole days; about 5 % of the re-entries within a year fall on day 1 after the index, "
        "so ties cost a daily Cox fit of the error-free `index_events` nothing noticeable. That fit "
        "still carries the sampling variation of this extract: compare an analysis of the files with "
        "it as well as with the values below.\n\n"
        f"| covariate | definition |\n|---|---|\n{defs}\n\n"
        "## Possession-claim and family-case cohorts\n\n"
        "No proportional-hazards model generates the next offence after a possession claim or a family case: "
        "it comes from the onset of offending (with a latent propensity class) or from the re-entry process of "
        "an earlier index. Their truth is `cohort_index_events.parquet`: every such index event the files hold, "
        "with the covariates as the person's written records dated on or before the index say them (under the "
        "true person ids) and the next offence. A Cox model fitted to it is the benchmark a fit from the files "
        "must reproduce; `recorded_attributes.csv` says which table records which attribute. Civil records "
        "hold no sex, ethnicity, IMD or age, so most possession-claim defendants have none at the claim: an "
        "attribute read from later records would be known only for those who came back.\n\n"
        "## What the files cannot show\n\n"
        "The covariates above are computed from what the generator knows. A re-entry cohort built from the "
        "files (`djs_toolkit.analyses.reentry_cohort`) follows the same definitions as far as the files allow; "
        "without linkage error these differences remain:\n\n"
        "- IMD: residents of Wales (`wales`, about 5 %) have a true decile but no `imd_decile` in any record "
        "(Welsh LSOAs have no English IMD decile). Their IMD covariate is unknown in the files, not "
        '"less deprived": leave them out of a model with IMD (living in Wales was drawn independently of '
        "everything else, so complete cases are unbiased) rather than coding them 0.\n"
        "- Age: records hold completed years at a reference date (offence, reception), never the birth date. "
        "The cohort narrows the birth date down with every record of the person up to the index; on the small "
        "extract 13 % of index ages are still a year off (22 % from the index record alone) and 1.2 % fall in "
        "another band of the model (2.4 %).\n"
        "- Family parties: `age_at_case_start` is missing on about 5 % of party rows; the cohort counts such "
        "an applicant or respondent as adult (a few are 16 or 17). The generator writes no `Other party` rows. "
        "Likewise an individual party to a possession claim without a recorded role counts as a defendant "
        "(a few are claimant landlords).\n"
        "- Index events the files do not hold: releases of children received into custody before 15 (held "
        "outside P-NOMIS; `reentry_cif_1y.csv` has `release_nomis` for them), case rows without any date, "
        "and probation events without a disposal description (a cohort cannot tell them from licences).\n"
        "- Outcomes: an offence whose case is first heard after the courts' coverage ends is not in the files, "
        "however long the waiting period; a few offences committed before the follow-up end are missed.\n"
    )
