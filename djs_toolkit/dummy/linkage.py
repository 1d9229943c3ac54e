"""Step 5: linkage error. Estimated person ids with false merges and false splits, and `xjs_link`.

Real person ids come from Splink clustering (docs/data.md §1.4-1.5, §10): some genuine links are
missed (a person's records split over two ids) and some false links made (two people merged).
Here, per dataset:

* within-dataset ids (`estimated_defendant_id`, `estimated_offender_id`, `estimated_person_id`):
  each record is split off to the person's alias cluster with probability ``split_rate[dataset]``
  (times ``role_split_mult`` for children and respondents / civil defendants), and a person is merged
  into another person's cluster with probability ``merge_rate[dataset]``;
* the cross-justice id `estimated_xjs_id`: each record fails to link to the person's other records
  with probability ``xjs_split_rate[dataset]`` (times the role multiplier; it then joins a cluster of
  that person's unlinked records in that dataset), and a person is merged with another with
  probability ``xjs_merge_rate``.

Only people get ids: organisations in civil cases get neither an estimated id nor a link row.

Example:
    >>> from djs_toolkit.dummy.linkage import EST_COLUMN
    >>> EST_COLUMN["prison_nomis"]
    'estimated_offender_id'
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from djs_toolkit.dummy.frames import Ctx, Frame
from djs_toolkit.schema import DATASETS

__all__ = ["EST_COLUMN", "LINKED", "link_chunk"]

EST_COLUMN = {
    "mags_hocas": "estimated_defendant_id",
    "crown_xhibit": "estimated_defendant_id",
    "prison_nomis": "estimated_offender_id",
    "probation_delius": "estimated_offender_id",
    "familyman": "estimated_person_id",
    "civil_caseman_pcol": "estimated_person_id",
}
LINKED = tuple(EST_COLUMN)  # dataset labels with a person table, in a fixed order
# Child tables that carry their parent's estimated id: (child, parent, index column into parent).
_INHERIT = (
    ("prison_oasys", "prison_journey", "_row"),
    ("prison_incident", "prison_journey", "_row"),
    ("probation_rqmnts", "probation_flatfile", "_event"),
)


def _role_mult(ctx: Ctx, label: str, frame: Frame) -> np.ndarray:
    n = np.asarray(frame["_person"]).size
    mult = np.ones(n)
    if "_role" not in frame:
        return mult
    role = np.asarray(frame["_role"])
    m = ctx.cfg.role_split_mult
    if label == "familyman":
        mult = np.where(role == 2, m.get("Child", 1.0), np.where(role == 1, m.get("Respondent", 1.0), 1.0))
    elif label == "civil_caseman_pcol":
        mult = np.where(role == 1, m.get("Respondent", 1.0), 1.0)
    return mult


def link_chunk(ctx: Ctx, tables: dict[str, Frame]) -> tuple[Frame, Frame]:
    """Fill estimated ids in ``tables`` in place; return (`xjs_link` frame, truth person map frame).

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> ps = make_persons(np.random.default_rng(0), 10, DummyConfig(), 0)
        >>> ctx = Ctx(0, 0, ps, DummyConfig(), np.random.default_rng(0))
        >>> t = {"mags_defendant_case": {"row_id_hash": ctx.new_ids("r", 3), "_person": np.array([0, 0, 1]),
        ...      "estimated_defendant_id": None}}
        >>> link, truth = link_chunk(ctx, t)
        >>> len(link["row_id_hash"])
        3
    """
    rng, cfg, ps = ctx.rng, ctx.cfg, ctx.persons
    person_table = {lab: pt for lab in LINKED if (pt := DATASETS[lab].person_table) is not None and pt in tables}
    present = list(person_table)
    people = [np.asarray(tables[person_table[lab]]["_person"]) for lab in present]
    every = np.unique(np.concatenate([p[p >= 0] for p in people])) if people else np.zeros(0, np.int64)
    # Cross-justice merges: the person's records all join another person's cluster.
    xbase = np.arange(ps.n, dtype=np.int64)
    mg = every[rng.random(every.size) < cfg.xjs_merge_rate]
    if mg.size:
        xbase[mg] = rng.choice(every, mg.size)
    link_parts: dict[str, list] = {"source_dataset": [], "row_id_hash": [], "estimated_xjs_id": []}
    truth_parts: dict[str, list] = {"source_dataset": [], "row_id_hash": [], "true_person_id": []}
    for ds_i, lab in enumerate(present):
        frame = tables[person_table[lab]]
        p = np.asarray(frame["_person"])
        valid = p >= 0
        mult = _role_mult(ctx, lab, frame)
        q = np.where(valid, p, 0)
        # Within-dataset estimated id.
        split = rng.random(p.size) < cfg.split_rate[lab] * mult
        target = np.arange(ps.n, dtype=np.int64)
        uniq = np.unique(p[valid])
        mg = uniq[rng.random(uniq.size) < cfg.merge_rate[lab]]
        if mg.size:
            target[mg] = rng.choice(uniq, mg.size)
        wkey = (ps.pid[target[q]] << np.uint64(3)) | split.astype(np.uint64)
        est = ctx.ids(f"est|{lab}", wkey)
        frame[EST_COLUMN[lab]] = _null_where(est, ~valid)
        # Cross-justice id.
        xs = rng.random(p.size) < cfg.xjs_split_rate[lab] * mult
        xkey = np.where(xs, (ps.pid[q] << np.uint64(3)) | np.uint64(1 + ds_i), ps.pid[xbase[q]] << np.uint64(3))
        rows = np.flatnonzero(valid)
        row_ids = frame["row_id_hash"].take(pa.array(rows))
        link_parts["source_dataset"].append(np.full(rows.size, lab, dtype=object))
        link_parts["row_id_hash"].append(row_ids)
        link_parts["estimated_xjs_id"].append(ctx.ids("xjs", xkey[rows]))
        truth_parts["source_dataset"].append(np.full(rows.size, lab, dtype=object))
        truth_parts["row_id_hash"].append(row_ids)
        truth_parts["true_person_id"].append(ctx.ids("person", ps.pid[p[rows]]))
    for child, parent, col in _INHERIT:
        if child in tables and parent in tables:
            est_col = "estimated_offender_id"
            tables[child][est_col] = tables[parent][est_col].take(pa.array(np.asarray(tables[child][col])))
    return _cat(link_parts), _cat(truth_parts)


def _null_where(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return arr
    import pyarrow.compute as pc

    return pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)


def _cat(parts: dict[str, list]) -> Frame:
    out: Frame = {}
    for k, v in parts.items():
        if not v:
            out[k] = np.zeros(0, dtype=object)
        elif isinstance(v[0], pa.Array):
            out[k] = pa.concat_arrays(v)
        else:
            out[k] = np.concatenate(v)
    return out
