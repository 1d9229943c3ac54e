"""Layout in inches for figures whose panels must fit their labels (the UpSet plot).

Panel positions are computed from measured text sizes rather than left to ``tight_layout`` (whose result
depends on the artists drawn) or to fixed width ratios (which let long set names spill over the bars).
Everything here is deterministic: the same labels give the same rectangles, so PNG bytes are stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

__all__ = ["UpsetLayout", "headroom", "text_size", "wrap_text"]

MAX_WIDTH = 18.0  # inches: keeps the PNG size bounded (1800 px at 100 dpi)
_GAP = 0.08  # inches between the intersection bars and the matrix
_RIGHT = 0.3  # inches right of the matrix


def text_size(fig: Figure, text: str, fontsize: float) -> tuple[float, float]:
    """(width, height) in inches of ``text`` drawn horizontally at ``fontsize`` points on ``fig``.

    Measured as matplotlib draws it (call inside `style`, so the style's font is used).

    Example:
        >>> from djs_toolkit.plotting._base import new_figure, style
        >>> with style():
        ...     fig = new_figure()
        ...     (w1, h1), (w2, h2) = text_size(fig, "c", 10), text_size(fig, "10,000", 10)
        >>> w2 > 4 * w1 and h1 == h2
        True
    """
    t = Text(0, 0, text, fontsize=fontsize)
    t.set_figure(fig)
    box = t.get_window_extent()  # the figure's renderer
    return float(box.width / fig.dpi), float(box.height / fig.dpi)


def wrap_text(fig: Figure, text: str, width_in: float, fontsize: float) -> str:
    """``text`` broken at spaces into lines no wider than ``width_in`` inches at ``fontsize`` (a long title is
    wrapped, never cut by the figure's edge); a single word wider than that stays on its own line.

    Example:
        >>> from djs_toolkit.plotting._base import new_figure, style
        >>> with style():
        ...     wrap_text(new_figure(), "Time to a new criminal court case after release, by sex", 4.0, 16)
        'Time to a new criminal court case\\nafter release, by sex'
    """
    lines: list[str] = []
    for word in text.split():
        if lines and text_size(fig, f"{lines[-1]} {word}", fontsize)[0] <= width_in:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return "\n".join(lines)


def headroom(values: np.ndarray, label_in: np.ndarray, panel_in: float, pad_pt: float) -> float:
    """Axis limit at which every bar's label (``label_in`` inches long, ``pad_pt`` after its bar's end) fits
    inside a panel ``panel_in`` inches long; at least 5% above the longest bar, 1 when there are no bars.

    Example:
        >>> headroom(np.array([100.0, 50.0]), np.array([0.5, 0.5]), 3.0, 0.0)  # 100 * 3 / (3 - 0.5)
        120.0
    """
    values, label_in = np.asarray(values, float), np.asarray(label_in, float)
    ok = np.isfinite(values)
    if not ok.any():
        return 1.0
    room = np.maximum(panel_in - pad_pt / 72 - label_in[ok], 0.25 * panel_in)  # never squash bars below 1/4
    return float(max(np.max(values[ok] * panel_in / room), 1.05 * np.max(values[ok])))


@dataclass(frozen=True)
class UpsetLayout:
    """Inches of an UpSet figure: set-size bars | set names | matrix (bottom row), intersection bars (top).

    Attributes:
        n: combinations (columns); k: sets (rows).
        col: width of one combination column; row: height of one set row.
        sizes_w, names_w: widths of the set-size panel and of the name column.
        bars_h: height of the intersection-bar panel.
        margin: outer margin; pad: space either side of the names; bottom, top: space below the matrix
            (set-size axis, its label and the "c" note) and above the bars (title).
    """

    n: int
    k: int
    col: float
    row: float
    sizes_w: float
    names_w: float
    bars_h: float
    margin: float
    pad: float
    bottom: float
    top: float

    @classmethod
    def fit(cls, n: int, k: int, name_w: float, label_w: float = 0.0, title: bool = False) -> UpsetLayout:
        """Layout for ``n`` combinations and ``k`` sets whose longest name is ``name_w`` inches wide.

        Columns are 0.4 in wide, or wide enough for the widest bar label (``label_w`` inches) to sit
        horizontally with a gap; narrower when the figure would pass `MAX_WIDTH` (0.22 in for 63
        combinations and long names; labels then turn vertical), wider when there are few (matrix >= 2 in).

        Example:
            >>> lay = UpsetLayout.fit(63, 6, 1.7, label_w=0.4)
            >>> round(lay.width, 2), round(lay.col, 3), round(UpsetLayout.fit(20, 6, 1.7, label_w=0.4).col, 2)
            (18.0, 0.223, 0.5)
        """
        margin, pad, sizes_w = 0.12, 0.1, 1.6
        names_w = name_w + 2 * pad
        n = max(n, 1)
        col = min(max(0.4, label_w + 0.1), max(0.1, (MAX_WIDTH - margin - sizes_w - names_w - _RIGHT) / n))
        col = max(col, 2.0 / n)
        return cls(
            n=n,
            k=k,
            col=col,
            row=0.35,
            sizes_w=sizes_w,
            names_w=names_w,
            bars_h=3.0,
            margin=margin,
            pad=pad,
            bottom=0.95,
            top=margin + (0.45 if title else 0.1),
        )

    @property
    def width(self) -> float:
        """Figure width in inches."""
        return self.margin + self.sizes_w + self.names_w + self.n * self.col + _RIGHT

    @property
    def height(self) -> float:
        """Figure height in inches."""
        return self.bottom + self.k * self.row + _GAP + self.bars_h + self.top

    def rect(self, panel: str) -> tuple[float, float, float, float]:
        """[left, bottom, width, height] of ``bars``, ``matrix``, ``sizes`` or ``names`` in figure fractions.

        Example:
            >>> [round(v, 3) for v in UpsetLayout.fit(4, 3, 1.0, label_w=0.3).rect("names")]
            [0.33, 0.179, 0.23, 0.198]
        """
        left = {"sizes": self.margin, "names": self.margin + self.sizes_w}
        mat_left = self.margin + self.sizes_w + self.names_w
        w = {"sizes": self.sizes_w, "names": self.names_w, "matrix": self.n * self.col, "bars": self.n * self.col}
        b = self.bottom + self.k * self.row + _GAP if panel == "bars" else self.bottom
        h = self.bars_h if panel == "bars" else self.k * self.row
        return (left.get(panel, mat_left) / self.width, b / self.height, w[panel] / self.width, h / self.height)
