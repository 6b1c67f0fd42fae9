"""Hostile conditions: SIGTERM under heavy reads ends the daemon cleanly and
quickly; after kill -9 every read of the dead mount fails with ENOTCONN, `fusermount3 -u`
clears it and a new mount serves the same bytes."""

from __future__ import annotations

import errno
import os
import random
import signal
import threading
import time

import pytest

from hostile_lib import LAYOUTS, PREFIX, assert_random_reads, mount_in_layout
from pylib import mounting
from pylib.mountio import data_files, direct_pread, snapshot
from sourceguard import SourceGuard


class Readers:
    """n threads doing random O_DIRECT reads of the mount against want until stopped."""

    def __init__(self, m, want: dict[str, bytes], n: int, seed: int):
        self.m, self.want = m, want
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.reads = 0
        self.mismatches: list = []
        self.errors: list = []
        self.stopped_at = None
        self.threads = [threading.Thread(target=self.run, args=(seed + i,), daemon=True)
                        for i in range(n)]

    def run(self, seed):
        rng = random.Random(seed)
        names = [x for x in self.want if ".data-" in x]
        while not self.stop.is_set():
            name = rng.choice(names)
            ref = self.want[name]
            off = rng.randrange(0, len(ref))
            length = rng.choice([4096, 65536, 131072 + 7, 524288, 1 << 20])
            try:
                fd = os.open(self.m.join(name), os.O_RDONLY | os.O_DIRECT)
                try:
                    got = direct_pread(fd, length, off)
                finally:
                    os.close(fd)
            except OSError as e:
                with self.lock:  # when it failed: reads in flight at a signal may fail
                    self.errors.append((time.monotonic(), name, off, length, e.errno))
                if self.stopped_at is not None:
                    return
                continue
            ok = got == ref[off:off + length]
            with self.lock:
                self.reads += 1
                if not ok and not (self.stopped_at is not None and
                                   ref[off:off + length].startswith(got)):
                    self.mismatches.append((name, off, length, len(got)))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a reader is stuck"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sigterm_during_heavy_reads(tmp_path, ckptfs_bin, mapping, sources, layout):
    guard = SourceGuard(sources)
    with mount_in_layout(ckptfs_bin, mapping, tmp_path, layout) as m:
        want = snapshot(m)
        with Readers(m, want, 12, seed=100) as readers:
            time.sleep(2.0)
            assert readers.reads > 20 and not readers.errors and not readers.mismatches, (
                readers.reads, readers.errors[:5], readers.mismatches[:5])
            readers.stopped_at = time.monotonic()
            t0 = time.monotonic()
            rc = m.signal(signal.SIGTERM)
            took = time.monotonic() - t0
        after = [e for e in readers.errors if e[0] >= readers.stopped_at]
        print(f"layout={layout}: {readers.reads} reads before/while SIGTERM; "
              f"{len(after)} reads failed once it came "
              f"({sorted({errno.errorcode[e[4]] for e in after})}); stopped in {took:.2f}s")
        assert rc == 0, m.describe()
        assert took < 10, f"the daemon took {took:.1f}s to stop"
        assert not mounting.is_mounted(m.path), m.describe()
        before = [e for e in readers.errors if e[0] < readers.stopped_at]
        assert not before and not readers.mismatches, (before[:5], readers.mismatches[:5])
        # what readers saw once the daemon was gone: errors, never wrong bytes
        assert {e[4] for e in readers.errors} <= {errno.ENOTCONN, errno.ENOENT, errno.EIO,
                                                  errno.ECONNABORTED, errno.EINTR}, \
            readers.errors[:10]
    guard.check("SIGTERM under load")


def test_kill_9_then_recover(tmp_path, ckptfs_bin, mapping, sources):
    """kill -9: every read of the dead mount fails with ENOTCONN (old fds included),
    `fusermount3 -u` clears it, and a new mount on the same directory serves the same
    bytes."""
    guard = SourceGuard(sources)
    mnt = str(tmp_path / "mnt")
    with mounting.daemon(ckptfs_bin, mapping, mnt) as m:
        want = snapshot(m)
        name = data_files(mnt)[0]
        fd = os.open(m.join(name), os.O_RDONLY | os.O_DIRECT)
        try:
            assert direct_pread(fd, 4096, 0) == want[name][:4096]
            m.proc.kill()
            assert m.proc.wait(timeout=30) == -signal.SIGKILL
            # (stat may still answer from the kernel's attribute cache: not a read)
            for what, op in [("listdir", lambda: os.listdir(mnt)),
                             ("open", lambda: os.open(m.join(name), os.O_RDONLY)),
                             ("open the index", lambda: os.open(m.join(f"{PREFIX}.index"),
                                                                os.O_RDONLY)),
                             ("pread on an open fd", lambda: os.pread(fd, 4096, 0)),
                             ("pread again", lambda: os.pread(fd, 1 << 20, 12345))]:
                with pytest.raises(OSError) as e:
                    op()
                assert e.value.errno == errno.ENOTCONN, (what, e.value)
        finally:
            os.close(fd)
        assert mounting.is_mounted(mnt), "the dead mount vanished by itself"
        assert len(mounting.mounts_at(mnt)) == 1
        u = mounting.fusermount("-u", mnt)
        assert u.returncode == 0, u.stderr
        assert not mounting.is_mounted(mnt)
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m2:
        assert snapshot(m2) == want
        assert_random_reads(m2, want, 100, seed=9)
    guard.check("kill -9 and a new mount")
