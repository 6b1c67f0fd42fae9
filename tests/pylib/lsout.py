"""What ``ckptfs ls`` prints, read back: names are shown escaped (a backslash doubled,
controls as \\n, \\t, \\r or \\xNN; docs/mapping.md), so a name can neither forge
lines nor drive the terminal. ``ls_name`` undoes that escaping."""

from __future__ import annotations

import re

_LS_ESCAPE = re.compile(rb"\\(\\|n|t|r|x[0-9a-f]{2})")
_LS_SIMPLE = {b"\\": b"\\", b"n": b"\n", b"t": b"\t", b"r": b"\r"}


def ls_name(field: str) -> str:
    """A name as ``ckptfs ls`` shows it, back to the name. Works on bytes, so that an
    escaped C1 control or a byte that is not UTF-8 comes back as it was; str in and
    out with surrogateescape."""
    raw = field.encode("utf-8", "surrogateescape")
    out = _LS_ESCAPE.sub(lambda m: _LS_SIMPLE.get(m.group(1))
                         or bytes([int(m.group(1)[1:], 16)]), raw)
    return out.decode("utf-8", "surrogateescape")
