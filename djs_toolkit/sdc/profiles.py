"""Disclosure-control profiles: rule sets kept as versioned YAML data, never as code.

Profiles ship inside the package (`srs`, `opensafely`, `acro`) and can be replaced or extended by a YAML file
anywhere on disk (a TRE never has to edit site-packages: the ACRO configuration defect in
docs/disclosure.md §2.1). A file may say `extends: srs` and override only the keys it changes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from djs_toolkit.errors import DJSUserError

__all__ = ["Profile", "available_profiles", "load_profile"]

_PROFILE_DIR = Path(__file__).with_name("profiles")
_STATUS = ("pass", "review", "fail")


@dataclass(frozen=True)
class Profile:
    """One rule set. Field meanings are documented in `profiles/srs.yaml`.

    Example:
        >>> load_profile("srs").threshold
        10
    """

    name: str
    version: int
    description: str
    threshold: int
    threshold_rule: str
    nk_n: int | None
    nk_k: float | None
    p_percent: float | None
    dominance_negatives: str
    zeros: str
    class_disclosure: str
    all_values_same: str
    dof_threshold: int | None
    minmax: str
    position_min_in_band: int
    position_sig_figs: int
    mitigation: str
    round_base: int | None
    rate_rounding: str | None
    protection_width: float | None
    magnitude_protection: float
    status_after_protection: str
    unknown_statistic: str
    blocked_extensions: tuple[str, ...]
    margins_name: str
    source: str = ""

    @property
    def min_safe_count(self) -> int:
        """Smallest unweighted count that passes the threshold rule.

        Example:
            >>> load_profile("opensafely").min_safe_count
            8
        """
        return self.threshold + 1 if self.threshold_rule == "at_or_below" else self.threshold

    @property
    def width(self) -> float:
        """Attacker interval width every suppressed count must keep (default: the threshold).

        Example:
            >>> load_profile("srs").width
            10.0
        """
        return float(self.threshold if self.protection_width is None else self.protection_width)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for results.json and the checker pack.

        Example:
            >>> load_profile("srs").to_dict()["mitigation"]
            'suppress'
        """
        out = dataclasses.asdict(self)
        out["blocked_extensions"] = list(self.blocked_extensions)
        return out


_CHOICES: dict[str, tuple[Any, ...]] = {
    "threshold_rule": ("below", "at_or_below"),
    "dominance_negatives": ("abs", "review"),
    "zeros": _STATUS,
    "class_disclosure": _STATUS,
    "all_values_same": _STATUS,
    "minmax": ("fail", "review", "threshold"),
    "mitigation": ("suppress", "round", "none"),
    "rate_rounding": (None, "midpoint6", "base"),
    "status_after_protection": ("pass", "review"),
    "unknown_statistic": ("review", "fail"),
}


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the package.

    Example:
        >>> available_profiles()
        ['acro', 'opensafely', 'srs']
    """
    return sorted(p.stem for p in _PROFILE_DIR.glob("*.yaml"))


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise DJSUserError(f"Profile file {path.name} extends itself in a loop: remove the circular `extends:`.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DJSUserError(
            f"Profile file {path} is not valid YAML ({exc.__class__.__name__}): fix its syntax."
        ) from None
    if not isinstance(data, dict):
        raise DJSUserError(f"Profile file {path} must be a YAML mapping of setting: value.")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    base = _read_yaml(_resolve(str(parent), relative_to=path.parent), (*seen, path))
    base.update(data)
    return base


def _resolve(spec: str, relative_to: Path | None = None) -> Path:
    if spec in available_profiles():
        return _PROFILE_DIR / f"{spec}.yaml"
    path = Path(spec)
    if not path.is_absolute() and relative_to is not None and (relative_to / path).exists():
        path = relative_to / path
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path.resolve()
    raise DJSUserError(
        f"Unknown profile {spec!r}: use one of {available_profiles()} or the path of a .yaml profile file."
    )


def load_profile(profile: str | Path | Profile = "srs", **overrides: Any) -> Profile:
    """Load a profile by name (`srs`, `opensafely`, `acro`) or by the path of a YAML file.

    Args:
        profile: a shipped profile name, a path to a YAML file (which may say `extends: srs`), or a Profile.
        **overrides: settings that replace the file's values (for experiments and tests).

    Returns:
        The validated, immutable Profile.

    Raises:
        DJSUserError: unknown name, unreadable file, unknown setting or invalid value.

    Example:
        >>> load_profile("srs", threshold=20).threshold
        20
    """
    if isinstance(profile, Profile):
        data = profile.to_dict()
    else:
        path = _resolve(str(profile))
        data = _read_yaml(path)
        data.setdefault("source", path.name if path.parent == _PROFILE_DIR else str(path))
    data.update(overrides)
    return _validate(data)


def _validate(data: dict[str, Any]) -> Profile:
    fields = {f.name: f for f in dataclasses.fields(Profile)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise DJSUserError(f"Unknown profile setting(s) {unknown}: valid settings are {sorted(fields)}.")
    missing = sorted(k for k, f in fields.items() if k not in data and f.default is dataclasses.MISSING)
    if missing:
        raise DJSUserError(f"Profile is missing setting(s) {missing}: add them or use `extends: srs`.")
    for key, choices in _CHOICES.items():
        if data.get(key) not in choices:
            raise DJSUserError(f"Profile setting {key}={data.get(key)!r} is invalid: use one of {list(choices)}.")
    ints = ("threshold", "version", "position_min_in_band", "position_sig_figs")
    for key in ints:
        if not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 0:
            raise DJSUserError(f"Profile setting {key} must be a non-negative integer.")
    if data["threshold"] < 1:
        raise DJSUserError("Profile setting threshold must be at least 1.")
    if (data["nk_n"] is None) != (data["nk_k"] is None):
        raise DJSUserError("Profile settings nk_n and nk_k must both be set or both be null.")
    if data["nk_n"] is not None and data["nk_n"] not in (1, 2):
        raise DJSUserError("Profile setting nk_n must be 1 or 2 (evidence keeps the two largest contributors).")
    if data["nk_k"] is not None and not 0 < float(data["nk_k"]) <= 1:
        raise DJSUserError("Profile setting nk_k is a share: use a number in (0, 1], e.g. 0.9.")
    if data["p_percent"] is not None and not 0 < float(data["p_percent"]) < 1:
        raise DJSUserError("Profile setting p_percent is a share: use a number in (0, 1), e.g. 0.1.")
    if data["mitigation"] == "round" and not data.get("round_base"):
        raise DJSUserError("Profile with mitigation: round needs round_base (e.g. 5).")
    if data["round_base"] is not None and (not isinstance(data["round_base"], int) or data["round_base"] < 1):
        raise DJSUserError("Profile setting round_base must be a positive integer or null.")
    data = dict(data)
    data["blocked_extensions"] = tuple(str(e).lower() for e in data.get("blocked_extensions") or ())
    data["magnitude_protection"] = float(data["magnitude_protection"])
    return Profile(**data)
