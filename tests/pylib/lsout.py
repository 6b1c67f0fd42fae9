"""What ``ckptfs ls`` prints, read back.

* ``parse_ls``: the lines as lists of tab-separated columns (of a checkpoint: name, dtype,
  shape, shard, offset, size; of a mapping, then source and key);
* ``parse_ls_mapping``: ``ckptfs ls MAPPING`` as a dict by merged name;
* ``fmt_shape``: a shape as the shape column shows it, ``[2,3]``;
* ``ls_name``: names are shown escaped (a backslash doubled, controls as \\n, \\t, \\r or
  \\xNN; docs/mapping.md), so a name can neither forge lines nor drive the terminal:
  this undoes that escaping.
"""

from __future__ import annotations

import re

_LS_ESCAPE = re.compile(rb"\\(\\|n|t|r|x[0-9a-f]{2})")
_LS_SIMPLE = {b"\\": b"\\", b"n": b"\n", b"t": b"\t", b"r": b"\r"}


def parse_ls(out: bytes | str, columns: int | None = None) -> list[list[str]]:
    """`ckptfs ls` output -> one list of columns per line (bytes are decoded as UTF-8 with
    surrogateescape). The output must end with a newline; with columns, every line must
    have that many."""
    text = out.decode("utf-8", "surrogateescape") if isinstance(out, bytes) else out
    if text == "":
        return []
    assert text.endswith("\n"), "ls output must end with a newline"
    rows = [line.split("\t") for line in text[:-1].split("\n")]
    if columns is not None:
        bad = [r for r in rows if len(r) != columns]
        assert not bad, f"ls lines must have {columns} tab-separated columns: {bad[:3]}"
    return rows


def parse_ls_mapping(out: bytes | str) -> dict[str, dict]:
    """`ckptfs ls MAPPING` -> {merged name: {dtype, shape, shard, offset, size, source,
    key}}: shard and offset are the merged checkpoint's (in the mapping's layout); source
    and key say where the tensor comes from."""
    out_rows = {}
    for name, dtype, shape, shard, off, size, source, key in parse_ls(out, columns=8):
        out_rows[name] = {"dtype": dtype, "shape": shape, "source": source, "key": key,
                          "shard": None if shard == "-" else int(shard),
                          "offset": None if off == "-" else int(off),
                          "size": None if size == "-" else int(size)}
    return out_rows


def fmt_shape(shape) -> str:
    """A shape as ``ckptfs ls`` shows it: ``[2,3]``, ``[]`` for a scalar."""
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def ls_name(field: str) -> str:
    """A name as ``ckptfs ls`` shows it, back to the name. Works on bytes, so that an
    escaped C1 control or a byte that is not UTF-8 comes back as it was; str in and
    out with surrogateescape."""
    raw = field.encode("utf-8", "surrogateescape")
    out = _LS_ESCAPE.sub(lambda m: _LS_SIMPLE.get(m.group(1))
                         or bytes([int(m.group(1)[1:], 16)]), raw)
    return out.decode("utf-8", "surrogateescape")
