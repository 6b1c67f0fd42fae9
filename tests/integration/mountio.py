"""Reading files through a ckptfs mount."""

from __future__ import annotations

import os


def direct_pread(fd: int, length: int, offset: int) -> bytes:
    """pread through an O_DIRECT fd until length bytes or EOF: the kernel asks the daemon
    for exactly this range (split at max_read), instead of serving page-aligned readahead
    from its cache."""
    out = bytearray()
    while len(out) < length:
        b = os.pread(fd, length - len(out), offset + len(out))
        if not b:
            break
        out += b
    return bytes(out)


def read_file(path: str, chunk: int = 1 << 20) -> bytes:
    """The whole file, by read(2)s of chunk bytes (no Python buffering)."""
    parts = []
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(chunk)
            if not b:
                return b"".join(parts)
            parts.append(b)


def read_direct(path: str, chunk: int = 1 << 20) -> bytes:
    """The whole file through O_DIRECT: every byte comes from the daemon."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        return direct_pread(fd, os.fstat(fd).st_size + chunk, 0)
    finally:
        os.close(fd)


def snapshot(m) -> dict[str, bytes]:
    """Every file at the top of mount m, read through O_DIRECT."""
    return {n: read_direct(m.join(n)) for n in sorted(os.listdir(m.path))}
