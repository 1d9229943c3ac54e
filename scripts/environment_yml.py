"""Write environment.yml, the conda route into the SRS, from pyproject.toml, the one list of dependencies.

`make environment.yml` runs this; `--check` exits 1 when the file on disk differs from what pyproject.toml gives
(tests/test_install.py does the same, so the two never drift). The conda environment holds the runtime
dependencies, the `lab` extra (JupyterLab: researchers work in notebooks there), pytest and hypothesis (to run the
toolkit's tests after an install) and the build backend (`pip install --no-deps --no-build-isolation -e .` needs it
installed, not fetched). Lint and type tools stay out: they check the code, not the install.

Example:
    >>> spec = {"project": {"requires-python": ">=3.10", "dependencies": ["duckdb>=1.0"]},
    ...         "build-system": {"requires": ["setuptools>=61"]}}
    >>> conda_requirements(spec)
    ['python>=3.10', 'duckdb>=1.0', 'setuptools>=61', 'pip']
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "CONDA_EXTRAS",
    "CONDA_NAMES",
    "TEST_PACKAGES",
    "conda_requirements",
    "load",
    "main",
    "pip_requirements",
    "render",
]

ROOT = Path(__file__).resolve().parents[1]
# Extras installed in the conda route as well as the runtime dependencies.
CONDA_EXTRAS = ("lab",)
# From the test extra: what running the test suite needs (not the lint and type tools).
TEST_PACKAGES = ("pytest", "hypothesis")
# PyPI name -> conda-forge name where they differ. None today: conda-forge's `duckdb` (which installs
# `python-duckdb`) and `matplotlib` go by PyPI's names, so environment.yml names every dependency as pyproject does.
CONDA_NAMES: dict[str, str] = {}
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)")
HEADER = """\
# GENERATED from pyproject.toml by scripts/environment_yml.py (`make environment.yml`): do not edit by hand.
# The conda route (e.g. the SRS Anaconda mirror, offline):
#   conda env create -f environment.yml && conda activate djs
#   pip install --no-deps --no-build-isolation -e .
#   djs doctor
"""


def load(path: Path = ROOT / "pyproject.toml") -> dict:
    """pyproject.toml as a dict.

    Example:
        >>> load()["project"]["name"]
        'djs_toolkit'
    """
    with Path(path).open("rb") as fh:
        return tomllib.load(fh)


def pip_requirements(spec: dict) -> list[tuple[str, str]]:
    """(lower-case PyPI name, version specifier) of the runtime dependencies, then the conda extras, then the test
    packages, each once, in that order.

    Example:
        >>> pip_requirements({"project": {"dependencies": ["pandas>=2.0,<3"],
        ...                               "optional-dependencies": {"lab": ["jupyterlab>=4"]}}})
        [('pandas', '>=2.0,<3'), ('jupyterlab', '>=4')]
    """
    project = spec["project"]
    extras = project.get("optional-dependencies", {})
    reqs = list(project.get("dependencies", []))
    for extra in CONDA_EXTRAS:
        reqs += extras.get(extra, [])
    reqs += [r for r in extras.get("test", []) if _name(r) in TEST_PACKAGES]
    out: dict[str, str] = {}
    for req in reqs:
        m = _REQ.match(req)
        if m is None:
            raise ValueError(f"cannot read the requirement {req!r} in pyproject.toml")
        out.setdefault(m.group(1).lower().replace("_", "-"), m.group(3).replace(" ", ""))
    return list(out.items())


def _name(req: str) -> str:
    m = _REQ.match(req)
    return m.group(1).lower() if m else ""


def conda_requirements(spec: dict) -> list[str]:
    """The conda match specs: Python, each requirement under its conda-forge name, the build backend, pip.

    Example:
        >>> conda_requirements({"project": {"dependencies": ["matplotlib>=3.7"]}})
        ['matplotlib>=3.7', 'pip']
    """
    py = spec["project"].get("requires-python")
    specs = [f"python{py.replace(' ', '')}"] if py else []
    specs += [f"{CONDA_NAMES.get(name, name)}{version}" for name, version in pip_requirements(spec)]
    specs += [r.replace(" ", "") for r in spec.get("build-system", {}).get("requires", [])]
    return [*specs, "pip"]


def render(spec: dict) -> str:
    """The text of environment.yml.

    Example:
        >>> print(render({"project": {"dependencies": ["tqdm>=4.66"]}}).splitlines()[-3:])
        ['dependencies:', '  - tqdm>=4.66', '  - pip']
    """
    lines = ["name: djs", "channels:", "  - conda-forge", "dependencies:"]
    lines += [f"  - {s}" for s in conda_requirements(spec)]
    return HEADER + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write environment.yml (or, with `--check`, exit 1 when it is out of date).

    Example:
        >>> main(["--check"])
        0
    """
    args = sys.argv[1:] if argv is None else argv
    target = ROOT / "environment.yml"
    text = render(load())
    if "--check" in args:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            print("environment.yml differs from pyproject.toml: run `make environment.yml`", file=sys.stderr)
            return 1
        return 0
    with target.open("w", encoding="utf-8", newline="\n") as fh:  # LF on Windows too
        fh.write(text)
    print(f"wrote {target.name}: {len(conda_requirements(load()))} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
