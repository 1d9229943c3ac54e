"""Overlap protection that keeps the answer: complements by information loss, set sizes kept, "other combinations",
and the share of people withheld, each checked by an attacker written here from the published table alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from djs_toolkit import overlap
from djs_toolkit.sdc import Session, protect_overlap
from djs_toolkit.sdc.overlap import OTHER
from djs_toolkit.sdc.suppress import drop_redundant, information_loss

LABELS = ["mags_hocas", "crown_xhibit", "prison_nomis", "probation_delius", "familyman", "civil_caseman_pcol"]
# Exact-combination counts of the small dummy run's overlap table (`make run`, seed 0), keyed by membership bits
# in LABELS order: 16 of them are 1-9 people. Dummy numbers: they mean nothing about the justice system.
SMALL_RUN = {
    "100000": 11267, "010000": 141, "001000": 112, "000100": 232, "000010": 16697, "000001": 16065, "110000": 950,
    "101000": 215, "100100": 2000, "100010": 1955, "100001": 1958, "011000": 13, "010100": 49, "010010": 3,
    "010001": 5, "001100": 106, "001010": 14, "001001": 8, "000110": 8, "000101": 9, "000011": 3788, "111000": 333,
    "110100": 1215, "110010": 197, "110001": 145, "101100": 378, "101010": 57, "101001": 74, "100110": 378,
    "100101": 343, "100011": 555, "011100": 45, "011010": 3, "011001": 6, "010110": 5, "010101": 3, "010011": 2,
    "001110": 36, "001101": 48, "001011": 4, "000111": 1, "111100": 1616, "111010": 63, "111001": 81, "110110": 183,
    "110101": 148, "110011": 39, "101110": 72, "101101": 85, "101011": 20, "100111": 92, "011110": 7, "011101": 15,
    "011011": 3, "010111": 1, "001111": 10, "111110": 289, "111101": 407, "111011": 24, "110111": 37, "101111": 30,
    "011111": 5, "111111": 118,
}  # fmt: skip


def _members(counts: dict[str, int], labels: list[str], group: str | None = None) -> pd.DataFrame:
    bits = np.array([[c == "1" for c in key] for key in counts], dtype=bool)
    rows = np.repeat(bits, list(counts.values()), axis=0)
    m = pd.DataFrame(rows, columns=labels)
    return m if group is None else m.assign(sex=group)


def _attack(true: pd.DataFrame, out_table: pd.DataFrame, labels: list[str]) -> dict[tuple[int, str], float]:
    """Width of every withheld count an attacker can bound from the published table and the union alone.

    Unknowns are the exact-combination counts (>= 0); a published exclusive count fixes its cell, a published
    inclusive count fixes the sum over every combination containing it, and the union (a public total) fixes the
    sum of all. The attacker never sees the protection's own system.
    """
    member = true[labels].to_numpy(bool)
    shown = out_table.set_index("combination")
    n = len(true)
    A, b = [np.ones(n)], [float(true["exclusive"].sum())]
    bounds = []
    for i, combo in enumerate(true["combination"]):
        v = shown["exclusive"].get(combo, pd.NA)
        bounds.append((0, None) if pd.isna(v) else (float(v), float(v)))
        w = shown["inclusive"].get(combo, pd.NA)
        if not pd.isna(w):
            A.append(member[:, member[i]].all(axis=1).astype(float))
            b.append(float(w))
    widths = {}
    for i, combo in enumerate(true["combination"]):
        for col, row in (("exclusive", np.eye(n)[i]), ("inclusive", member[:, member[i]].all(axis=1).astype(float))):
            if col in shown and not pd.isna(shown[col].get(combo, pd.NA)):
                continue
            lo = linprog(row, A_eq=np.array(A), b_eq=b, bounds=bounds, method="highs")
            hi = linprog(-row, A_eq=np.array(A), b_eq=b, bounds=bounds, method="highs")
            assert lo.status == 0
            widths[(i, col)] = np.inf if hi.status == 3 else -hi.fun - lo.fun
    return widths


@pytest.fixture(scope="module")
def small_run() -> tuple[pd.DataFrame, object]:
    true = overlap.overlap_sets(_members(SMALL_RUN, LABELS))
    return true, protect_overlap(true, "srs")


def test_small_run_table_withholds_under_one_percent_of_people(small_run):
    true, out = small_run
    small = true["exclusive"].between(1, 9).to_numpy()
    withheld = out.mask["exclusive"].to_numpy(bool)
    assert small.sum() == 16 and withheld[small].all()
    share = true["exclusive"].to_numpy()[withheld].sum() / true["exclusive"].sum()
    assert out.properties["withheld_share"] == pytest.approx(share) and share < 0.01  # was 58.6%
    single = (true["degree"] == 1).to_numpy()
    assert not out.mask["inclusive"].to_numpy()[single].any()  # every set size published
    assert not withheld[single].any()  # and every single-jurisdiction count
    assert out.status == "review" and bool(out.audit["ok"].all())
    published = ~out.mask[["exclusive", "inclusive"]].to_numpy()
    assert (
        out.table[["exclusive", "inclusive"]].to_numpy()[published]
        == true[["exclusive", "inclusive"]].to_numpy()[published]
    ).all()


def test_small_run_table_is_safe_against_an_independent_attacker(small_run):
    true, out = small_run
    widths = _attack(true, out.table, LABELS)
    assert len(widths) == int(out.mask[["exclusive", "inclusive"]].to_numpy().sum())
    assert min(widths.values()) >= 10 - 1e-6


def test_collapse_merges_withheld_combinations_into_one_row():
    true = overlap.overlap_sets(_members(SMALL_RUN, LABELS))
    out = protect_overlap(true, "srs", collapse=True)
    table = out.table
    other = table["combination"] == OTHER
    assert other.sum() == 1 and not table.loc[other, LABELS].to_numpy().any()
    merged = true[~true["combination"].isin(table["combination"])]
    assert int(table.loc[other, "exclusive"].iloc[0]) == merged["exclusive"].sum() == 73  # the 16 small ones only
    assert not table.loc[~other, "exclusive"].between(1, 9).any()
    # set sizes are published, intersections' inclusive counts are not
    deg1 = table["degree"].eq(1).fillna(False).to_numpy()
    assert table.loc[deg1, "inclusive"].notna().all() and table.loc[~deg1, "inclusive"].isna().all()
    assert out.properties["withheld_share"] == pytest.approx(73 / true["exclusive"].sum())
    assert out.properties["collapsed"] and "CombinationsMerged" in set(out.reasons["rule"])
    # the attacker knows the shown exclusive counts, the set sizes and the union: every merged count stays wide
    widths = _attack(true, table[~other], LABELS)
    merged_cells = {(int(i), "exclusive") for i in np.flatnonzero(true["combination"].isin(merged["combination"]))}
    assert merged_cells <= set(widths) and min(widths[c] for c in merged_cells) >= 10 - 1e-6


def test_three_sets_keep_set_sizes_and_count_the_people_withheld():
    lab = ["mags_hocas", "familyman", "civil_caseman_pcol"]
    planted = {"100": 500, "010": 200, "001": 300, "110": 7, "101": 40, "011": 25, "111": 2}
    true = overlap.overlap_sets(_members(planted, lab))
    out = protect_overlap(true)
    sizes = true["degree"].eq(1).to_numpy()
    assert not out.mask["inclusive"].to_numpy()[sizes].any()
    # with three sets every pattern hiding "mags & familyman" moves two single-dataset counts: the least the
    # table allows; the share says so
    withheld = out.mask["exclusive"].to_numpy(bool)
    assert out.properties["withheld_share"] == pytest.approx(true["exclusive"][withheld].sum() / 1074)
    assert min(_attack(true, out.table, lab).values()) >= 10 - 1e-6


def test_groups_and_the_all_group_are_protected_together(tmp_path):
    lab = ["mags_hocas", "familyman"]
    m = pd.concat(
        [_members({"10": 60, "01": 45, "11": 3}, lab, "F"), _members({"10": 80, "01": 50, "11": 30}, lab, "M")],
        ignore_index=True,
    )
    true = overlap.overlap_sets(m, by="sex")
    s = Session("srs")
    out = protect_overlap(true, s, name="by_sex")
    table, mask = out.table, out.mask["exclusive"].to_numpy(bool)
    assert table["sex"].tolist() == ["F"] * 3 + ["M"] * 3 + ["All"] * 3
    assert bool(out.audit["ok"].all()) and mask[2]  # F, mags & familyman: 3 people
    # a person's count is withheld when their group's cell or the All group's cell for their combination is
    is_all = (table["sex"] == "All").to_numpy()
    hidden_all = set(table["combination"][is_all & mask])
    hit = (mask | table["combination"].isin(hidden_all).to_numpy())[~is_all]
    exclusive = true.set_index(["sex", "combination"])["exclusive"]
    people = np.array(
        [exclusive[(g, c)] for g, c in zip(table["sex"][~is_all], table["combination"][~is_all], strict=True)]
    )
    assert out.properties["withheld_share"] == pytest.approx(people[hit].sum() / people.sum())
    text = (s.finalise(tmp_path / "run") / "CLEARANCE.md").read_text()
    assert f"- Withheld: {out.properties['withheld_share']:.1%} of the people in withheld cells" in text


def test_information_loss_prefers_small_cells_and_keeps_tiers_last():
    x = np.array([0.0, 5.0, 40.0, 400.0, 40.0])
    cost = information_loss(x, np.array([0, 0, 0, 0, 1]))
    assert cost[0] < cost[1] < cost[2] < cost[3]
    assert cost[4] > cost[:4].sum()  # a higher tier costs more than every lower-tier cell together


def test_drop_redundant_releases_what_no_small_cell_needs():
    # a + b + c + d = total: a (3) needs one partner of at least 10; b, c and d were all chosen
    from scipy import sparse

    A = sparse.csr_matrix([[-1.0, -1.0, -1.0, -1.0, 1.0]])
    x = np.array([3.0, 12.0, 400.0, 50.0, 465.0])
    sup = np.array([True, True, True, True, False])
    keep = np.array([True, False, False, False, False])
    got = drop_redundant(A, x, np.zeros(5), sup, keep, np.array([0]), np.full(5, 10.0), information_loss(x))
    assert got.tolist() == [True, True, False, False, False]  # the cheapest partner that still protects a stays
