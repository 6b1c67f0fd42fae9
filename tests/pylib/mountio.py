"""Reading files through a ckptfs mount: by read(2), O_DIRECT and mmap."""

from __future__ import annotations

import fcntl
import mmap
import os

F_SETPIPE_SZ = 1031


def splice_max_read() -> int:
    """The largest max_read a daemon started now may use (fs/cache.c probes the same): 1 MiB
    when a pipe can hold a 1 MiB reply, its header page and a page per piece (64), else
    512 KiB.  Past /proc/sys/fs/pipe-max-size that takes CAP_SYS_RESOURCE, which root in a
    container may lack."""
    r, w = os.pipe()
    try:
        need = (1 << 20) + 4096 * (64 + 3)
        return 1 << 20 if fcntl.fcntl(r, F_SETPIPE_SZ, need) >= need else 512 << 10
    except OSError:
        return 512 << 10
    finally:
        os.close(r)
        os.close(w)


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


def mmap_bytes(path: str) -> bytes:
    """The whole file through a shared read-only mapping, as numpy.memmap(mode='r') makes."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
        return bytes(mm)


def data_files(path: str) -> list[str]:
    """The names of the data files (*.data-*) in directory path, a mount's top say."""
    return sorted(n for n in os.listdir(path) if ".data-" in n)


def snapshot(m) -> dict[str, bytes]:
    """Every file at the top of mount m, read through O_DIRECT."""
    return {n: read_direct(m.join(n)) for n in sorted(os.listdir(m.path))}
