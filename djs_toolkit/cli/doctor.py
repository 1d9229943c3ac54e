"""`djs doctor`: is this environment able to run the pipeline? One line per check, a fix for each failure.

Checks (docs/workflow.md §3.1 `doctor`, §3.3 paths, §2.2 kernels, §7 open questions about the SRS):
Python version; each declared dependency against its minimum (read from the installed package's metadata, i.e.
pyproject.toml: the list is kept nowhere else); JupyterLab, the notebooks' front end (the `lab` extra: a `warn` when
missing, as batch runs do not need it); the `python3` kernelspec and, unless `--quick`, a real kernel start that
imports djs_toolkit (locked desktops may block the local ports a kernel needs, docs/workflow.md §7); write access to
`outputs/` and `runs/`; the longest path a run will write against Windows' 260-character MAX_PATH (docs/workflow.md
§3.3); DuckDB, HiGHS (the output checker's LP solver), lifelines and statsmodels imports. Exit 1 when any check
fails.
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = ["MAX_PATH", "Check", "doctor", "longest_path", "run_checks"]

MAX_PATH = 260  # Windows limit unless long paths are enabled (docs/workflow.md §3.3)
_FRONT_END = "lab"  # the extra holding the notebooks' front end (JupyterLab)
_INSTALL = "pip install --no-deps --no-build-isolation -e ."


@dataclass(frozen=True)
class Check:
    """One check's outcome: `ok`, `warn` (does not fail) or `fail`, with what to do about it.

    Example:
        >>> Check("python", "ok", "3.11.7").line()
        'ok    python: 3.11.7'
    """

    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """The printed line.

        Example:
            >>> Check("kernel", "fail", "missing", "install it").line()
            'FAIL  kernel: missing\\n      fix: install it'
        """
        tag = {"ok": "ok", "warn": "warn", "fail": "FAIL"}[self.status]
        return f"{tag:<5} {self.name}: {self.detail}" + (f"\n      fix: {self.fix}" if self.fix else "")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def _minimums(extra: str | None = None) -> dict[str, str]:
    """Minimum versions of the runtime dependencies (or of one extra's) from the installed metadata; empty when the
    toolkit is not installed as a package (`_installed` reports that)."""
    try:
        reqs = metadata.requires("djs_toolkit") or []
    except metadata.PackageNotFoundError:
        return {}
    found = {}
    for req in reqs:
        name, low = re.match(r"^([A-Za-z0-9_.-]+)", req), re.search(r">=\s*([0-9.]+)", req)
        marker = re.search(r"extra\s*==\s*[\"']([^\"']+)", req)
        if name and low and (marker.group(1) if marker else None) == extra:
            found[name.group(1).lower()] = low.group(1)
    return found


def _installed() -> list[Check]:
    try:
        return [Check("djs_toolkit", "ok", metadata.version("djs_toolkit"))]
    except metadata.PackageNotFoundError:
        return [
            Check(
                "djs_toolkit",
                "fail",
                "imported from source but not installed: its dependency list comes with the install",
                f"in the project folder: {_INSTALL}",
            )
        ]


def _front_end() -> list[Check]:
    """JupyterLab, where researchers open the notebooks: a warning when missing (batch runs do not need it)."""
    minimums = _minimums(_FRONT_END) or {"jupyterlab": "4"}
    checks = []
    for pkg, minimum in sorted(minimums.items()):
        fix = f"conda install '{pkg}>={minimum}' (it is in environment.yml), or pip install '{pkg}>={minimum}'"
        try:
            have = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            checks.append(Check(pkg, "warn", "not installed: the notebooks need a front end", fix))
            continue
        ok = _version_tuple(have) >= _version_tuple(minimum)
        checks.append(Check(pkg, "ok" if ok else "warn", f"{have} (needs >= {minimum})", "" if ok else fix))
    return checks


def _packages() -> list[Check]:
    checks = []
    for pkg, minimum in sorted(_minimums().items()):
        try:
            have = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            checks.append(
                Check(
                    pkg,
                    "fail",
                    "not installed",
                    f"install it from the mirror: conda install '{pkg}>={minimum}' (or pip install --no-deps)",
                )
            )
            continue
        ok = _version_tuple(have) >= _version_tuple(minimum)
        checks.append(
            Check(
                pkg,
                "ok" if ok else "fail",
                f"{have} (needs >= {minimum})",
                "" if ok else f"upgrade: conda install '{pkg}>={minimum}'",
            )
        )
    return checks


def _kernel(start: bool) -> list[Check]:
    fix = f"{sys.executable} -m ipykernel install --sys-prefix --name python3"
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager().find_kernel_specs()
    except Exception as exc:
        return [Check("kernel python3", "fail", f"cannot list kernels ({type(exc).__name__})", fix)]
    if "python3" not in specs:
        return [Check("kernel python3", "fail", f"no kernelspec named python3 (found: {sorted(specs) or 'none'})", fix)]
    checks = [Check("kernel python3", "ok", f"kernelspec in {specs['python3']}")]
    if start:
        checks.append(_start_kernel(fix))
    return checks


def _start_kernel(fix: str) -> Check:
    import subprocess

    from jupyter_client.manager import KernelManager

    from djs_toolkit.runner.kernel import kernel_transport, socket_prefix

    # Started as `djs run` starts it (IPC where the platform has it), its own log kept out of the report.
    km = KernelManager(kernel_name="python3", transport=kernel_transport())
    if km.transport == "ipc":
        km.ip = socket_prefix()
    try:
        km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
    except Exception as exc:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        return Check(
            "kernel start",
            "fail",
            f"the python3 kernel did not start ({type(exc).__name__})",
            f"{fix}; if it still fails, local ports may be blocked: ask the service desk",
        )
    try:
        reply = kc.execute_interactive("import djs_toolkit", timeout=60, store_history=False)
        ok = reply["content"]["status"] == "ok"
    except Exception:
        ok = False
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return Check(
        "kernel start",
        "ok" if ok else "fail",
        "started; imports djs_toolkit"
        if ok
        else "started, but cannot import djs_toolkit (the kernel uses another Python)",
        "" if ok else f"{fix} (run it with the Python that has djs_toolkit installed)",
    )


def _writable(root: Path) -> list[Check]:
    checks = []
    for name in ("outputs", "runs"):
        folder = root / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
                pass
            checks.append(Check(f"write {name}/", "ok", str(folder)))
        except OSError as exc:
            checks.append(
                Check(
                    f"write {name}/",
                    "fail",
                    f"cannot write ({type(exc).__name__})",
                    f"run from a folder you can write to, or fix the permissions of {folder}",
                )
            )
    return checks


def longest_path(root: Path) -> int:
    """Length of the longest path a run writes under `root`: a staged checker-only file with the longest label
    and output name the runner allows (32 characters each).

    Example:
        >>> longest_path(Path("/p")) > 200
        True
    """
    label, name, run_id = "x" * 32, "y" * 32, "20261125T1943Z-ab12cd"
    uid = f"{label}.{name}"
    stage = Path(root).resolve() / "runs" / run_id / "stage" / label / name / "checker_only"
    return len(str(stage / f"DO-NOT-RELEASE_{uid}_evidence.csv"))


def _long_paths_enabled() -> bool:
    if sys.platform != "win32":
        return False
    try:
        import winreg

        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Control\FileSystem")
        return bool(winreg.QueryValueEx(key, "LongPathsEnabled")[0])
    except OSError:
        return False


def _paths(root: Path) -> Check:
    n = longest_path(root)
    if n < MAX_PATH:
        return Check("path length", "ok", f"longest expected path {n} < {MAX_PATH} characters")
    if _long_paths_enabled():
        return Check("path length", "ok", f"longest expected path {n} characters; Windows long paths are enabled")
    status = "fail" if sys.platform == "win32" else "warn"
    return Check(
        "path length",
        status,
        f"longest expected path {n} >= {MAX_PATH} characters (Windows MAX_PATH)",
        "move the project to a shorter folder (e.g. C:\\djs) or shorten run and output names",
    )


def _probe_duckdb() -> None:
    import duckdb

    duckdb.connect().execute("SELECT 1").fetchone()


def _probe_highspy() -> None:
    from djs_toolkit.sdc.lp import quiet_stdout  # HiGHS's C++ banner kept out of the report

    with quiet_stdout():
        import highspy

        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.addVar(0.0, 1.0)
        h.changeColCost(0, -1.0)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError("HiGHS did not solve a one-variable LP")


def _probe_lifelines() -> None:
    from lifelines import KaplanMeierFitter

    KaplanMeierFitter().fit([1.0, 2.0, 3.0], [1, 0, 1])


def _probe_statsmodels() -> None:
    from statsmodels.duration.hazard_regression import PHReg  # noqa: F401 - the Cox engine's backend


def _imports() -> list[Check]:
    checks = []
    probes = (
        ("duckdb", _probe_duckdb),
        ("highspy", _probe_highspy),
        ("lifelines", _probe_lifelines),
        ("statsmodels", _probe_statsmodels),
    )
    for mod, probe in probes:
        try:
            probe()
            checks.append(Check(f"import {mod}", "ok", "imports and runs"))
        except Exception as exc:
            checks.append(
                Check(
                    f"import {mod}",
                    "fail",
                    f"{type(exc).__name__} on import",
                    f"reinstall it from the mirror: conda install --force-reinstall {mod}",
                )
            )
    return checks


def run_checks(root: Path, start_kernel: bool = True) -> list[Check]:
    """Every check, in order.

    Example:
        >>> any(c.name == "python" for c in run_checks(Path("."), start_kernel=False))
        True
    """
    py_ok = sys.version_info >= (3, 10)
    checks = [
        Check(
            "python",
            "ok" if py_ok else "fail",
            sys.version.split()[0],
            "" if py_ok else "djs_toolkit needs Python >= 3.10: create an environment from environment.yml",
        )
    ]
    checks += _installed() + _packages() + _front_end() + _kernel(start_kernel)
    checks += [*_writable(Path(root)), _paths(Path(root)), *_imports()]
    return checks


def doctor(root: Path, start_kernel: bool = True) -> int:
    """Print every check; return 1 when any failed, else 0.

    Example:
        >>> doctor(Path("."), start_kernel=False)  # doctest: +ELLIPSIS
        ok    python: ...
        0
    """
    checks = run_checks(root, start_kernel)
    for c in checks:
        print(c.line())
    failed = [c for c in checks if c.status == "fail"]
    print(
        f"\n{len(checks) - len(failed)} of {len(checks)} checks passed"
        + (": fix the FAIL lines above." if failed else ".")
    )
    return 1 if failed else 0
