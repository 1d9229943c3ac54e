"""Step 1 of the story: the people.

Each simulated person has a sex, date of birth, true ethnicity, home LSOA (hence region and IMD
decile), a latent criminal-propensity class (which decides only who *starts* offending), a latent
"adversity" score (which makes the same people likelier to face possession claims, care
proceedings and crime, so the datasets overlap as they do in the real linked data), and possibly a
partner (couples are the parties of divorces, private-law and Family Law Act cases).

Children who appear in family cases are added later by `djs_toolkit.dummy.family` with
`Persons.append_children`.

Example:
    >>> import numpy as np
    >>> from djs_toolkit.dummy.config import DummyConfig
    >>> p = make_persons(np.random.default_rng(0), 100, DummyConfig(), first_id=0)
    >>> len(p.sex)
    100
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from djs_toolkit.dummy import codes
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import day

__all__ = ["Persons", "make_persons"]


@dataclass
class Persons:
    """Columns of the simulated population (numpy arrays of equal length; dates are day numbers).

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> make_persons(np.random.default_rng(1), 10, DummyConfig(), 0).n
        10
    """

    pid: np.ndarray  # global person number (uint64): the true person id, hashed in truth/
    sex: np.ndarray  # 0 male, 1 female
    dob: np.ndarray  # day number of birth
    eth: np.ndarray  # index into codes.ETHNICITY_TRUE
    wales: np.ndarray  # lives in Wales
    lsoa: np.ndarray  # LSOA number within its country
    imd: np.ndarray  # true deprivation decile 1..10 (unobservable in data for Wales)
    region: np.ndarray  # 0-8 English regions, 9 Wales
    crim_class: np.ndarray  # 0 none .. 3 high
    adversity: np.ndarray  # latent, standard normal-ish
    partner: np.ndarray  # local index of partner, -1 if none
    child: np.ndarray  # created as a child party of a family case

    @property
    def n(self) -> int:
        """Number of persons."""
        return int(self.sex.shape[0])

    def append_children(
        self,
        rng: np.random.Generator,
        dob: np.ndarray,
        parent: np.ndarray,
        cfg: DummyConfig,
        first_id: int,
        care: np.ndarray,
    ) -> np.ndarray:
        """Add children born on ``dob`` living with local ``parent``; returns their local indices.

        Children in care proceedings (``care``) get a higher criminal-propensity class, which is
        the documented care-experience pathway into offending [assumption].

        Example:
            >>> import numpy as np
            >>> from djs_toolkit.dummy.config import DummyConfig
            >>> p = make_persons(np.random.default_rng(0), 5, DummyConfig(), 0)
            >>> rng = np.random.default_rng(1)
            >>> p.append_children(rng, np.array([15000]), np.array([0]), DummyConfig(), 5, np.array([False])).tolist()
            [5]
        """
        m = int(dob.shape[0])
        start = self.n
        cls_p = np.array(cfg.crim_class_p)
        cls = rng.choice(4, size=m, p=cls_p)
        care_cls = rng.choice(4, size=m, p=[0.35, 0.25, 0.22, 0.18])
        cls = np.where(care, care_cls, cls)
        new = {
            "pid": np.arange(first_id, first_id + m, dtype=np.uint64),
            "sex": (rng.random(m) < 0.5).astype(np.int8),
            "dob": dob.astype(np.int64),
            "eth": self.eth[parent],
            "wales": self.wales[parent],
            "lsoa": self.lsoa[parent],
            "imd": self.imd[parent],
            "region": self.region[parent],
            "crim_class": cls.astype(np.int8),
            "adversity": (0.6 * self.adversity[parent] + 0.8 * rng.standard_normal(m)).astype(np.float32),
            "partner": np.full(m, -1, dtype=np.int64),
            "child": np.ones(m, dtype=bool),
        }
        for k, v in new.items():
            setattr(self, k, np.concatenate([getattr(self, k), v.astype(getattr(self, k).dtype)]))
        return np.arange(start, start + m)


def make_persons(rng: np.random.Generator, n: int, cfg: DummyConfig, first_id: int) -> Persons:
    """Simulate ``n`` adults with global person numbers ``first_id .. first_id + n - 1``.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> int(make_persons(np.random.default_rng(0), 50, DummyConfig(), 0).imd.min()) >= 1
        True
    """
    sex = (rng.random(n) < cfg.p_female).astype(np.int8)
    y0, y1 = cfg.birth_years
    # Young adults are over-represented among justice users: a triangular-ish birth-year mix.
    by = np.clip(np.round(rng.triangular(y0, y1 - 12, y1 + 1, n)), y0, y1).astype(np.int64)
    dob = np.array([day(int(y), 1, 1) for y in range(y0, y1 + 1)])[by - y0] + rng.integers(0, 365, n)
    eth = rng.choice(len(codes.ETHNICITY_TRUE), size=n, p=codes.ETHNICITY_P).astype(np.int8)
    wales = rng.random(n) < cfg.p_wales
    w = np.array(cfg.imd_weights)
    imd = (1 + rng.choice(10, size=n, p=w / w.sum())).astype(np.int8)
    u = rng.random(n)
    lsoa = np.where(wales, np.floor(u * codes.N_LSOA_WAL).astype(np.int64), codes.lsoa_for_decile(imd, u))
    region = codes.region_of_lsoa(lsoa, wales)
    # Propensity class leans towards deprived areas, as offending does.
    dep = (5.5 - imd) / 4.5
    # Women are less often in the offending classes (about a quarter of defendants are women).
    u = rng.random(n)
    sh = cfg.female_class_shift
    u = np.where(sex == 1, np.where(u < sh, 0.0, (u - sh) / (1 - sh)), u)
    cls_u = np.clip(u - 0.08 * dep, 0, 0.999999)
    crim_class = np.searchsorted(np.cumsum(cfg.crim_class_p), cls_u, side="right").astype(np.int8)
    adversity = (0.45 * dep + 0.35 * (crim_class - 1.0) + 0.85 * rng.standard_normal(n)).astype(np.float32)
    partner = _pair_up(rng, sex, dob, share=0.72)
    return Persons(
        pid=np.arange(first_id, first_id + n, dtype=np.uint64),
        sex=sex,
        dob=dob.astype(np.int64),
        eth=eth,
        wales=wales,
        lsoa=lsoa.astype(np.int64),
        imd=imd,
        region=region,
        crim_class=crim_class,
        adversity=adversity,
        partner=partner,
        child=np.zeros(n, dtype=bool),
    )


def _pair_up(rng: np.random.Generator, sex: np.ndarray, dob: np.ndarray, share: float) -> np.ndarray:
    """Pair women with men of similar age (vectorised: sort both by a jittered birth date)."""
    n = sex.shape[0]
    partner = np.full(n, -1, dtype=np.int64)
    f = np.flatnonzero((sex == 1) & (rng.random(n) < share))
    m = np.flatnonzero((sex == 0) & (rng.random(n) < share))
    k = min(f.size, m.size)
    if k == 0:
        return partner
    f = rng.permutation(f)[:k]
    m = rng.permutation(m)[:k]
    f = f[np.argsort(dob[f] + rng.normal(0, 900, k), kind="stable")]
    m = m[np.argsort(dob[m] - 700 + rng.normal(0, 900, k), kind="stable")]
    partner[f] = m
    partner[m] = f
    return partner
