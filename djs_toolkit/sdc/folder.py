"""End-of-process checking of outputs made elsewhere (R, Stata, SQL, Excel): `djs check FOLDER`.

ACRO can only attach such files as unchecked `custom` outputs (docs/disclosure.md §6 gap 12, §7.5). Here a
CSV table with a sidecar `<name>.counts.csv` of unweighted counts (same rows and columns) is checked with the same
rules and protection as a crosstab and recorded in the ledger; a CSV without counts, an image without an
underlying table, and any other file are `review` with a reason saying what to add; blocked file types `fail`.
The result is the same clearance folder as `Session.finalise` (release/, results.json, CLEARANCE.md,
checker_only/, manifest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.output import Output
from djs_toolkit.sdc.profiles import Profile
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


def _table(session: Session, name: str, path: Path, counts_path: Path | None) -> Output:
    desc = f"table from {path.name}" + (f" with counts from {counts_path.name}" if counts_path else "")
    if counts_path is None:
        return _review(
            session,
            name,
            path,
            "MissingCountsCheck",
            f"no counts sidecar: add {path.stem}{COUNTS_SUFFIX} with the unweighted, unrounded counts "
            "behind each cell (same rows and columns) so the table can be checked",
            desc,
        )
    try:
        values = pd.read_csv(path)
        counts = pd.read_csv(counts_path)
        labels = _label_columns(values, counts)
        if list(counts.columns) != list(values.columns):
            raise DJSUserError(f"{counts_path.name} must have the same columns as {path.name}, in order.")
        if not labels:
            raise DJSUserError(f"{path.name} needs row labels in its first column(s).")
        v, c = values.set_index(labels), counts.set_index(labels)
        same = v.shape == c.shape and bool((v.astype(str).to_numpy() == c.astype(str).to_numpy()).all())
        return session.table(v, None if same else c, "count" if same else "value", name=name, description=desc)
    except (DJSUserError, ValueError, pd.errors.ParserError) as exc:
        # the message names files, columns and counts only (DJSUserError's rule); parser errors get a generic text
        text = str(exc) if isinstance(exc, DJSUserError) else "the file could not be read as a table with counts"
        return _review(session, name, path, "TableReadCheck", f"not checked: {text}", desc)


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
    path = session.finalise(target)
    return FolderCheck(path, dict(session.outputs))
