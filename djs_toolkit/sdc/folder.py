"""End-of-process checking of outputs made elsewhere (R, Stata, SQL, Excel): `djs check FOLDER`.

ACRO can only attach such files as unchecked `custom` outputs (docs/disclosure.md §6 gap 12, §7.5). Here a
CSV table with a sidecar `<name>.counts.csv` of unweighted counts (same rows and columns) is checked with the same
rules and protection as a crosstab and recorded in the ledger; a CSV without counts, an image without an
underlying table, and any other file are `review` with a reason saying what to add; blocked file types `fail`.
The result is the same clearance folder as `Session.finalise` (release/, results.json, CLEARANCE.md,
checker_only/, manifest).
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.output import Output
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.release_attack import attack_release
from djs_toolkit.sdc.release_tables import read_release_folder
from djs_toolkit.sdc.report import reason_frame
from djs_toolkit.sdc.rules import worst
from djs_toolkit.sdc.session import Session

__all__ = ["IMAGE_SUFFIXES", "FolderCheck", "check_folder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".gif", ".pdf", ".tif", ".tiff")
COUNTS_SUFFIX = ".counts.csv"


@dataclass
class FolderCheck:
    """Result of `check_folder`.

    Attributes:
        path: the clearance folder written.
        outputs: the checked outputs by name.

    Example:
        >>> FolderCheck(Path("x"), {}).status
        'pass'
    """

    path: Path
    outputs: dict[str, Output]

    @property
    def status(self) -> str:
        """Worst status over all outputs.

        Example:
            >>> FolderCheck(Path("x"), {}).status
            'pass'
        """
        return worst(o.status for o in self.outputs.values())


def _name(path: Path, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).lstrip(".") or "output"
    if base in taken:  # a figure beside its table: courts.csv -> courts, courts.png -> courts_png
        base = f"{base}_{path.suffix.lstrip('.').lower() or 'file'}"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _label_columns(values: pd.DataFrame, counts: pd.DataFrame | None) -> list[str]:
    """Leading columns that are row labels: non-numeric, or numeric but identical in the table and its counts
    (e.g. `year`) while later columns differ. At least the first column when the table has two or more."""
    cols = list(values.columns)
    k = 0
    while k < len(cols):
        v = values[cols[k]]
        if not pd.api.types.is_numeric_dtype(v) or pd.api.types.is_bool_dtype(v):
            k += 1
            continue
        rest_same = counts is not None and all(c in counts.columns and values[c].equals(counts[c]) for c in cols[k:])
        same = counts is not None and cols[k] in counts.columns and v.equals(counts[cols[k]])
        if same and not rest_same and k < len(cols) - 1:
            k += 1
            continue
        break
    if k == 0 and len(cols) > 1:
        k = 1
    return cols[:k]


def _review(session: Session, name: str, path: Path, rule: str, reason: str, description: str) -> Output:
    out = session.custom(path, description, name=name)
    status = out.status  # `fail` for blocked file types, `review` otherwise
    out.reasons = reason_frame(
        [
            (
                None,
                None,
                rule,
                status,
                reason
                if status == "review"
                else f"file type {path.suffix.lower()} is blocked by profile {session.profile.name}",
            )
        ]
    )
    return out


def _fail(session: Session, name: str, path: Path, rule: str, reason: str, description: str) -> Output:
    out = _review(session, name, path, rule, reason, description)
    out.status = "fail"
    out.reasons["status"] = "fail"
    return out


def _numbers(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    num = frame.apply(pd.to_numeric, errors="coerce")
    text = frame.notna() & num.isna()
    if text.to_numpy().any():
        bad = [str(c) for c in frame.columns[text.any(axis=0).to_numpy()]]
        raise DJSUserError(f"{what} has text in value column(s) {bad}: keep row labels in the first column(s).")
    return num


def _whole(num: pd.DataFrame) -> pd.Series:
    """Columns whose every cell is a whole number: counts of units."""
    arr = num.to_numpy(np.float64)
    return pd.Series(np.all(np.isfinite(arr) & (arr == np.round(arr)), axis=0), index=num.columns)


def _table(session: Session, name: str, path: Path, counts_path: Path | None) -> Output:
    """Check one CSV: whole-number cells are counts (numerators where a sidecar gives larger counts behind them);
    other values are statistics checked through the sidecar's counts; without a sidecar they cannot be checked."""
    desc = f"table from {path.name}" + (f" with counts from {counts_path.name}" if counts_path else "")
    add = (
        f"add {path.stem}{COUNTS_SUFFIX} with the unweighted, unrounded counts behind each cell (same rows and "
        "columns) so the table can be checked"
    )
    try:
        values = pd.read_csv(path)
        counts = pd.read_csv(counts_path) if counts_path is not None else None
        labels = _label_columns(values, counts)
        if not labels:
            raise DJSUserError(f"{path.name} needs row labels in its first column(s).")
        v = values.set_index(labels)
        num = _numbers(v, path.name)
        whole = _whole(num)
        if counts is None:
            if not whole.all():
                stats = [str(c) for c in whole.index[~whole.to_numpy()]]
                return _fail(session, name, path, "MissingCountsCheck", f"no counts sidecar for {stats}: {add}", desc)
            cn = num
        else:
            assert counts_path is not None  # a sidecar was read
            if list(counts.columns) != list(values.columns):
                raise DJSUserError(f"{counts_path.name} must have the same columns as {path.name}, in order")
            c = counts.set_index(labels)
            if c.shape != v.shape or list(map(str, c.index)) != list(map(str, v.index)):
                raise DJSUserError(f"{counts_path.name} must have the same rows as {path.name}, in order")
            cn = _numbers(c, counts_path.name)
            w = cn.to_numpy(np.float64)
            if not (np.isfinite(w) & (w >= 0) & (w == np.round(w))).all():
                raise DJSUserError(f"{counts_path.name} must hold whole numbers >= 0 (unweighted, unrounded counts)")
            if (num.loc[:, whole].to_numpy() > cn.loc[:, whole].to_numpy()).any():
                raise DJSUserError(
                    f"{counts_path.name} has a count smaller than the whole number it stands behind in {path.name}: "
                    "the sidecar must hold the number of units behind each cell"
                )
    except (DJSUserError, ValueError, pd.errors.ParserError) as exc:
        # the message names files, columns and counts only (DJSUserError's rule); parser errors get a generic text
        text = str(exc) if isinstance(exc, DJSUserError) else "the file could not be read as a table"
        return _fail(session, name, path, "TableReadCheck", f"not checked: {text}", desc)
    # One count table behind the file: a count column as it is; a numerator beside larger counts as itself and
    # the rest of its counts (both checked, so neither the numerator nor its complement is small); a statistic
    # through its counts.
    parts, owner = {}, []
    for col in v.columns:
        if whole[col] and not num[col].equals(cn[col]):
            parts[f"{col} (numerator)"], parts[f"{col} (rest)"] = num[col], cn[col] - num[col]
            owner += [col, col]
        else:
            parts[str(col)] = cn[col]
            owner.append(col)
    combined = pd.DataFrame(parts).round().astype(np.int64)
    plain = all(whole) and combined.shape == num.shape
    if (combined.to_numpy() < 0).any():  # e.g. differences: not counts of units, and no sidecar says what they are
        return _fail(session, name, path, "TableReadCheck", f"not checked: negative whole numbers: {add}", desc)
    o = session.table(combined, None, "count", name=name, description=desc)
    assert o.mask is not None
    if plain:  # a count table: released as checked (rounded where the profile rounds)
        o.table.columns, o.mask.columns = v.columns, v.columns
        return o
    cmask = o.mask.loc[num.index].to_numpy(bool)
    mask = pd.DataFrame(
        {col: cmask[:, [i for i, x in enumerate(owner) if x == col]].any(axis=1) for col in v.columns}, index=num.index
    )
    shown = num.copy()
    if session.profile.mitigation == "round":  # numerators printed as their rounded counts
        for col in v.columns:
            if whole[col] and f"{col} (numerator)" in o.table.columns:
                shown[col] = o.table.loc[num.index, f"{col} (numerator)"].astype(float)
    o.table, o.mask = shown.mask(mask), mask
    o.statistic = "count" if all(whole) else "value"
    o.properties["statistic"] = o.statistic
    o.properties["count_columns"] = [str(col) for col in v.columns if whole[col]]
    if not all(whole):
        o.reasons = pd.concat(
            [
                o.reasons,
                reason_frame(
                    [
                        (
                            None,
                            None,
                            "CountsOnlyCheck",
                            "review",
                            "statistics were checked through the unweighted counts behind each cell (threshold, zeros, "
                            "suppression); dominance and value checks need the records",
                        )
                    ]
                ),
            ],
            ignore_index=True,
        )
        o.status = worst([o.status, "review"])
    return o


def check_folder(
    folder: str | Path,
    profile: str | Path | Profile = "srs",
    ledger: str | Path | None = None,
    out: str | Path | None = None,
) -> FolderCheck:
    """Check every file in `folder` and write a clearance folder.

    Args:
        folder: outputs made elsewhere (CSV tables with `<name>.counts.csv` sidecars, images, other files).
        profile: rule set (`srs`, `opensafely`, `acro` or a YAML path).
        ledger: the project's differencing ledger (tables are checked against it and recorded in it).
        out: where to write the clearance folder (default: `<folder>-checked` beside it; never overwritten).

    Returns:
        FolderCheck with the folder written and every output's status.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()) / "from_stata"; d.mkdir()
        >>> t = pd.DataFrame({"court": ["A", "B"], "custody": [40, 33], "community": [51, 60]})
        >>> _ = t.to_csv(d / "courts.csv", index=False); _ = t.to_csv(d / "courts.counts.csv", index=False)
        >>> _ = (d / "plot.png").write_bytes(b"not really a png")
        >>> res = check_folder(d)
        >>> {k: o.status for k, o in res.outputs.items()}, res.path.name
        ({'courts': 'pass', 'plot': 'review'}, 'from_stata-checked')
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DJSUserError(f"{folder.name} is not a folder: give the folder holding the outputs to check.")
    target = Path(out) if out is not None else folder.with_name(f"{folder.name}-checked")
    session = Session(profile, ledger=ledger)
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    tables = {
        p.with_suffix("").as_posix(): p
        for p in files
        if p.suffix.lower() == ".csv" and not p.name.lower().endswith(COUNTS_SUFFIX)
    }
    taken: set[str] = set()
    for p in files:
        if p.name.lower().endswith(COUNTS_SUFFIX):
            continue  # a sidecar: evidence for its table, never released
        name = _name(p, taken)
        if p.suffix.lower() == ".csv":
            sidecar = p.with_name(p.stem + COUNTS_SUFFIX)
            _table(session, name, p, sidecar if sidecar.is_file() else None)
        elif p.suffix.lower() in IMAGE_SUFFIXES:
            under = tables.get(p.with_suffix("").as_posix())
            reason = (
                f"figure: its underlying table {under.name} is checked beside it; a checker confirms the "
                "figure shows no more than that table"
                if under is not None
                else f"image without its underlying table: add {p.stem}.csv and {p.stem}{COUNTS_SUFFIX} (the "
                "numbers it shows and their unweighted counts)"
            )
            _review(session, name, p, "FigureCheck", reason, f"figure {p.name}")
        else:
            _review(
                session,
                name,
                p,
                "CustomOutputCheck",
                "file made outside the checker (not a table or image): a human must check it",
                f"file {p.name}",
            )
    _attack(session)
    path = session.finalise(target)
    return FolderCheck(path, dict(session.outputs))


def _attack(session: Session) -> None:
    """The whole-release attack over every table of the folder (`release_attack`), as after a `djs run`."""
    for o in session.outputs.values():
        if o.type != "custom":  # the layout facts the attacker's reading of each CSV needs
            o.properties["index_levels"] = int(o.table.index.nlevels)
            o.properties["csv_header_rows"] = 1 if o.table.columns.nlevels == 1 else o.table.columns.nlevels + 1
    with tempfile.TemporaryDirectory() as scratch:
        draft = session.finalise(Path(scratch) / "draft")
        doc = json.loads((draft / "results.json").read_text(encoding="utf-8"))
        res = attack_release(read_release_folder(draft, doc, session.profile), session.profile)
    for uid, why in res.failed.items():
        o = session.outputs[uid]
        o.reasons = pd.concat(
            [o.reasons, reason_frame([(None, None, "ReleaseAttackCheck", "fail", w) for w in why])], ignore_index=True
        )
        o.status = "fail"
