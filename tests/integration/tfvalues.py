"""Comparing bytes ckptfs served or wrote with the values TensorFlow returns (numpy and
ml_dtypes arrays, bytes for strings)."""

from __future__ import annotations

import numpy as np


def numeric_bytes(value) -> bytes:
    """Little-endian bytes of a numeric value as TensorFlow returned it (numpy / ml_dtypes;
    bfloat16 and the float8/int4 types are ml_dtypes arrays and tobytes() works on them)."""
    a = np.asarray(value)
    if a.dtype.byteorder == ">":
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return np.ascontiguousarray(a).tobytes()


def string_elements(value) -> list[bytes]:
    """Flat list of bytes from TF's get_tensor of a string tensor (bytes for a scalar)."""
    if isinstance(value, bytes):
        return [value]
    return [bytes(x) for x in np.asarray(value, dtype=object).reshape(-1)]


def assert_same_value(name: str, dtype: str, got, want):
    if dtype == "string":
        assert string_elements(got) == string_elements(want), f"{name}: string values differ"
    else:
        g, w = np.asarray(got), np.asarray(want)
        assert g.shape == w.shape, f"{name}: shape {g.shape} != {w.shape}"
        assert numeric_bytes(g) == numeric_bytes(w), f"{name}: {dtype} bytes differ"
