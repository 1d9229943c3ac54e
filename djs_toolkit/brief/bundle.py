"""A bundle as a brief reads it: the released tables and figures, their results.json entries, the notebook runs.

Only `release/` holds numbers a brief may use; results.json gives each output's description (figure alt text),
type and run, and the manifest is where the brief is registered. Whether the bundle is from dummy data is a fact of
the run (`runs/<run_id>/run.json`), not of the bundle, unless the caller says.

Example:
    >>> import tempfile
    >>> view = read_bundle(Path(tempfile.mkdtemp()))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    djs_toolkit.DJSUserError: ... is not a bundle: pass outputs/<run_id> (a folder written by `djs run`)
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import MANIFEST_NAME

__all__ = ["BundleView", "Output", "is_dummy_run", "read_bundle"]

WITHHELD = "[suppressed]"


@dataclass
class Output:
    """One released output of a bundle: its id, entry fields and released files (paths relative to the bundle).

    Example:
        >>> Output("r.km", "survival", "km", "KM by sex", ["release/r.km.csv"]).csv
        'release/r.km.csv'
    """

    uid: str
    type: str
    method: str
    description: str
    files: list[str]
    statistic: str = ""
    population: str = ""

    @property
    def csv(self) -> str | None:
        """The released table's path, None for an output without one (a text finding).

        Example:
            >>> Output("r.t", "custom", "text", "", ["release/r.t.md"]).csv is None
            True
        """
        return next((f for f in self.files if f.endswith(".csv")), None)

    @property
    def png(self) -> str | None:
        """The released figure's path, if any.

        Example:
            >>> Output("r.k", "table", "", "", ["release/r.k.csv", "release/r.k.png"]).png
            'release/r.k.png'
        """
        return next((f for f in self.files if f.endswith(".png")), None)


@dataclass
class BundleView:
    """What a brief may read from a bundle (`read_bundle`).

    Example:
        >>> BundleView(Path("b"), [], {}).outputs_of("r")
        []
    """

    root: Path
    runs: list[dict[str, Any]]
    outputs: dict[str, Output]
    dummy: bool | None = None
    _texts: dict[str, str] = field(default_factory=dict, repr=False)

    def outputs_of(self, label: str) -> list[Output]:
        """The released outputs of one notebook run, in the order its notebook saved them.

        Example:
            >>> BundleView(Path("b"), [{"label": "r", "outputs": ["r.a"]}], {}).outputs_of("r")
            []
        """
        run: dict[str, Any] = next((r for r in self.runs if r["label"] == label), {"outputs": []})
        return [self.outputs[u] for u in run["outputs"] if u in self.outputs]

    def text(self, rel: str) -> str:
        """A released text file (CSV, Markdown, JSON) by its path in the bundle.

        Example:
            >>> import tempfile; d = Path(tempfile.mkdtemp()); _ = (d / "a.csv").write_text("n\\n1\\n")
            >>> BundleView(d, [], {}).text("a.csv")
            'n\\n1\\n'
        """
        if rel not in self._texts:
            self._texts[rel] = (self.root / rel).read_text(encoding="utf-8")
        return self._texts[rel]

    def table(self, rel: str) -> pd.DataFrame:
        """A released CSV as a DataFrame: withheld cells are missing, never 0.

        Example:
            >>> import tempfile; d = Path(tempfile.mkdtemp()); _ = (d / "a.csv").write_text("n\\n[suppressed]\\n4\\n")
            >>> BundleView(d, [], {}).table("a.csv")["n"].tolist()
            [nan, 4.0]
        """
        return pd.read_csv(io.StringIO(self.text(rel)), na_values=[WITHHELD, ""], keep_default_na=False)

    def release_tables(self, label: str | None = None) -> dict[str, str]:
        """`{file name: CSV text}` of the released tables (of one run, or all): what every number traces to.

        Example:
            >>> BundleView(Path("b"), [], {}).release_tables()
            {}
        """
        outs = self.outputs_of(label) if label is not None else list(self.outputs.values())
        return {Path(o.csv).name: self.text(o.csv) for o in outs if o.csv}


def is_dummy_run(bundle: Path) -> bool | None:
    """Whether the bundle's run read a dummy extract (`runs/<run_id>/run.json` beside `outputs/`); None = unknown.

    A dummy extract is `--data dummy` or a folder holding the generator's `truth/`.

    Example:
        >>> import tempfile
        >>> is_dummy_run(Path(tempfile.mkdtemp()) / "outputs" / "r1") is None
        True
    """
    bundle = Path(bundle).resolve()
    run_json = bundle.parent.parent / "runs" / bundle.name / "run.json"
    try:
        doc = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("data") in (None, "dummy"):
        return True
    root = Path(str(doc.get("data_root") or doc.get("data")))
    return (root / "truth").is_dir()


def read_bundle(folder: Path, dummy: bool | None = None) -> BundleView:
    """Read a bundle's runs and released outputs (withheld outputs and files outside `release/` are left out).

    Args:
        folder: `outputs/<run_id>`.
        dummy: whether it is from dummy data; None = from the run's record (`is_dummy_run`).

    Example:
        >>> read_bundle(Path("no-such-bundle"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        djs_toolkit.DJSUserError: no-such-bundle is not a bundle: ...
    """
    root = Path(folder)
    if not (root / "results.json").is_file() or not (root / MANIFEST_NAME).is_file():
        raise DJSUserError(f"{root.name} is not a bundle: pass outputs/<run_id> (a folder written by `djs run`)")
    doc = json.loads((root / "results.json").read_text(encoding="utf-8"))
    outputs: dict[str, Output] = {}
    for uid, entry in doc.get("results", {}).items():
        files = [f["name"] for f in entry.get("files", []) if str(f.get("name", "")).startswith("release/")]
        files = [f for f in files if (root / f).is_file()]
        if entry.get("status") == "fail" or not files:
            continue
        extra = entry.get("djs_toolkit", {})
        outputs[uid] = Output(
            uid,
            str(entry.get("type", "")),
            str(entry.get("properties", {}).get("method", "")),
            str(extra.get("description") or ""),
            files,
            str(extra.get("statistic") or entry.get("properties", {}).get("statistic") or ""),
            str(extra.get("population") or ""),
        )
    runs = list(doc.get("djs_toolkit", {}).get("runs", []))
    return BundleView(root, runs, outputs, dummy if dummy is not None else is_dummy_run(root))
