"""Tests for djs_toolkit.dummy.ids."""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy.ids import hex_ids, mix64


def test_ids_are_16_hex_unique_and_deterministic() -> None:
    keys = np.arange(200_000, dtype=np.uint64)
    a = hex_ids(7, "row", keys).to_pylist()
    assert a == hex_ids(7, "row", keys).to_pylist()
    assert len(set(a)) == keys.size
    assert all(len(x) == 16 and set(x) <= set("0123456789abcdef") for x in a[:1000])


def test_tag_and_seed_change_every_id() -> None:
    keys = np.arange(1000, dtype=np.uint64)
    a, b, c = (hex_ids(s, t, keys).to_pylist() for s, t in ((0, "row"), (0, "case"), (1, "row")))
    assert not set(a) & set(b) and not set(a) & set(c)


def test_mix64_is_a_bijection_on_a_sample() -> None:
    x = np.arange(1 << 16, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    assert np.unique(mix64(x)).size == x.size
