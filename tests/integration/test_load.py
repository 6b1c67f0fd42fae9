"""Load: 16 concurrent readers do random (offset, length) reads of the mounted
data files for CKPTFS_LOAD_SECONDS (default 60) per layout; every read is compared with a
reference, and the daemon's memory must stay flat.

The reference: for layout=shards each virtual data file must equal its source shard file
byte for byte; for layout=single the whole virtual file is read once, sequentially, and
that pass is checked tensor by tensor against ``ckptfs cat SOURCE KEY`` (the merged name
-> source, key pairs come from ``ckptfs ls MAPPING``), then used as the reference.

The merge: TensorFlow-written checkpoints (a 64 MiB tensor, every dtype, the rare dtypes, a
2-shard checkpoint, a TF1 Saver checkpoint), a corpus checkpoint with an exclude that
leaves gaps, a hand-built source of 300 small tensors in shuffled data order with every
third one excluded, and a tensor mapped under a second name.

Requirements: 0 mismatches, 0 errors, and VmRSS at the end <= VmRSS after the warm-up
+ 8 MiB.  Reads mix O_DIRECT preads on long-lived fds (each one reaches the daemon),
open/read/close cycles, and buffered preads (page cache).
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time

import numpy as np
import pytest

from pylib import mounting
from pylib.ckptfmt import DT_UINT8, Tensor, read_index, write_bundle
from pylib.lsout import parse_ls_mapping
from pylib.mounting import run_cmd
from pylib.mountio import direct_pread, read_file
from sourceguard import SourceGuard

LOAD_SECONDS = float(os.environ.get("CKPTFS_LOAD_SECONDS", "60"))
READERS = 16
RSS_SLACK_KIB = 8 * 1024
# Under ASan freed memory sits in a quarantine and per-size caches, so RSS
# climbs without a leak; `scripts/test --sanitize` sets this, and leaks are
# LeakSanitizer's job there (the daemon must still exit 0).
SANITIZED = os.environ.get("CKPTFS_SANITIZED") == "1"
PREFIX = "model.ckpt"

# mapping source name -> fixture id (conftest's all_checkpoints)
TF_SOURCES = {"large": "large_64mib", "dtypes": "all_dtypes", "exotic": "exotic_dtypes",
              "multi": "multishard", "tf1": "tf1_saver", "est": "corpus/tfx_estimator_tf1"}
LENGTHS = [1, 3, 4095, 4096, 4097, 65536, 131072 + 13, 524288, 524289, 1 << 20]


@pytest.fixture(scope="module")
def many_source(tmp_path_factory) -> str:
    """300 tensors of 1 B .. 40 KB, data in shuffled order; every third is named .../x."""
    d = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(42)
    tensors = []
    for i in range(300):
        n = int(rng.integers(1, 40000))
        tensors.append(Tensor(f"t{i:04d}/{'x' if i % 3 == 0 else 'k'}", DT_UINT8, [n],
                              rng.integers(0, 256, n, dtype=np.uint8).tobytes()))
    order = list(range(len(tensors)))
    random.Random(5).shuffle(order)
    prefix = str(d / "many")
    write_bundle(prefix, tensors, data_order=order)
    return prefix


@pytest.fixture(scope="module")
def load_setup(tmp_path_factory, all_checkpoints, many_source):
    fixtures = {name: all_checkpoints[fid] for name, fid in TF_SOURCES.items()}
    prefixes = {name: fx.prefix for name, fx in fixtures.items()}
    prefixes["many"] = many_source
    lines = [f"source {n} = {p}" for n, p in prefixes.items()]
    lines += [f"map {n}:/ -> {n}/" for n in prefixes]
    lines += ["map dtypes:vec/float32 -> alias/vec_f32",   # the same bytes, twice
              "exclude est:training/*",                    # optimizer slots: gaps
              "exclude many:*/x",
              f"prefix = {PREFIX}"]
    mapping = tmp_path_factory.mktemp("load") / "load.conf"
    mapping.write_text("\n".join(lines) + "\n")
    many_guard = SourceGuard(os.path.dirname(many_source))
    yield {"mapping": str(mapping), "prefixes": prefixes, "fixtures": fixtures, "cat": {}}
    for fx in fixtures.values():
        fx.guard.check("the load test")
    many_guard.check("the load test")


def cat_bytes(setup, ckptfs_bin, source: str, key: str) -> bytes:
    """The stored bytes of one source tensor, by `ckptfs cat` (cached)."""
    cache = setup["cat"]
    if (source, key) not in cache:
        p = subprocess.run([ckptfs_bin, "cat", setup["prefixes"][source], key],
                           capture_output=True, timeout=300)
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        cache[(source, key)] = p.stdout
    return cache[(source, key)]


def build_reference(m, layout: str, setup, ckptfs_bin) -> tuple[dict, dict]:
    """{data file: bytes} checked as the module docstring says; {data file: [tensor
    boundaries]} for aiming reads at piece edges."""
    r = run_cmd([ckptfs_bin, "ls", setup["mapping"]], timeout=120)
    assert r.rc == 0, r.describe()
    listed = parse_ls_mapping(r.stdout)
    idx = read_index(m.join(PREFIX))
    names = sorted(n for n in os.listdir(m.path) if ".data-" in n)
    assert len(names) == idx.num_shards
    ref = {n: read_file(m.join(n)) for n in names}   # the one sequential pass
    for n in names:
        assert len(ref[n]) == os.stat(m.join(n)).st_size, n
    cuts = {n: {0, len(ref[n])} for n in names}
    checked = 0
    for e in idx.listed():
        if e.is_partitioned:
            continue
        info = listed[e.name]
        name = names[e.shard_id]
        got = ref[name][e.offset:e.offset + e.size]
        want = cat_bytes(setup, ckptfs_bin, info["source"], info["key"])
        assert got == want, f"{e.name} ({name} @{e.offset}+{e.size}) != cat " \
                            f"{info['source']} {info['key']}"
        cuts[name] |= {e.offset, e.offset + e.size}
        checked += 1
    assert checked > 250
    if layout == "shards":
        # each virtual shard is one source shard file, byte for byte
        sidx = {s: read_index(p) for s, p in setup["prefixes"].items()}
        for i, name in enumerate(names):
            users = set()
            for e in idx.listed():
                if e.shard_id == i and not e.is_partitioned:
                    info = listed[e.name]
                    src = sidx[info["source"]]
                    users.add((info["source"],
                               src.data_path(src.by_key[info["key"].encode()].shard_id)))
            assert len(users) == 1, (name, users)
            (_source, path), = users
            with open(path, "rb") as f:
                assert ref[name] == f.read(), f"{name} differs from {path}"
    return ref, {n: sorted(c) for n, c in cuts.items()}


class Load:
    def __init__(self, m, ref: dict, cuts: dict, seconds: float):
        self.m, self.ref, self.cuts = m, ref, cuts
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.reads = self.bytes = 0
        self.kinds = {"direct": 0, "reopen": 0, "buffered": 0}
        self.mismatches: list = []
        self.errors: list = []

    def pick(self, rng):
        names = list(self.ref)
        if rng.random() < 0.5:
            name = rng.choice(names)
        else:
            name = rng.choices(names, weights=[len(self.ref[n]) + 1 for n in names])[0]
        size = len(self.ref[name])
        r = rng.random()
        if r < 0.65:
            off = rng.randrange(0, size + 1)
        elif r < 0.9:
            off = max(0, rng.choice(self.cuts[name]) + rng.randint(-5000, 5000))
        else:
            off = max(0, size - rng.randint(-4096, 1 << 20))
        length = rng.choice(LENGTHS) if rng.random() < 0.6 else rng.randint(1, 1 << 20)
        return name, off, length

    def run(self, seed: int):
        rng = random.Random(seed)
        direct = {n: os.open(self.m.join(n), os.O_RDONLY | os.O_DIRECT) for n in self.ref}
        buffered = {n: os.open(self.m.join(n), os.O_RDONLY) for n in self.ref}
        try:
            while time.monotonic() < self.deadline:
                name, off, length = self.pick(rng)
                r = rng.random()
                kind = "direct" if r < 0.75 else "reopen" if r < 0.9 else "buffered"
                try:
                    if kind == "direct":
                        got = direct_pread(direct[name], length, off)
                    elif kind == "reopen":
                        fd = os.open(self.m.join(name), os.O_RDONLY | os.O_DIRECT)
                        try:
                            got = direct_pread(fd, length, off)
                        finally:
                            os.close(fd)
                    else:
                        got = b""
                        while len(got) < length:
                            b = os.pread(buffered[name], length - len(got), off + len(got))
                            if not b:
                                break
                            got += b
                except OSError as e:
                    with self.lock:
                        self.errors.append((kind, name, off, length, e.errno, str(e)))
                    continue
                ok = got == self.ref[name][off:off + length]
                with self.lock:
                    self.reads += 1
                    self.bytes += len(got)
                    self.kinds[kind] += 1
                    if not ok:
                        self.mismatches.append((kind, name, off, length, len(got)))
        finally:
            for fd in list(direct.values()) + list(buffered.values()):
                os.close(fd)


@pytest.mark.parametrize("layout", ["single", "shards"])
def test_concurrent_random_reads(tmp_path, ckptfs_bin, load_setup, layout):
    with mounting.mounted(ckptfs_bin, load_setup["mapping"], str(tmp_path / "mnt"),
                          "-o", f"layout={layout}") as m:
        ref, cuts = build_reference(m, layout, load_setup, ckptfs_bin)
        load = Load(m, ref, cuts, LOAD_SECONDS)
        threads = [threading.Thread(target=load.run, args=(1000 + i,), daemon=True)
                   for i in range(READERS)]
        start = time.monotonic()
        warmup = min(10.0, LOAD_SECONDS / 4)
        for t in threads:
            t.start()
        samples = []
        rss_warm = None
        while any(t.is_alive() for t in threads):
            now = time.monotonic() - start
            rss = m.memory()["VmRSS"] // 1024
            samples.append((round(now, 1), rss))
            if rss_warm is None and now >= warmup:
                rss_warm = rss
            time.sleep(0.5)
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a reader is stuck"
        rss_end = m.memory()["VmRSS"] // 1024
        took = time.monotonic() - start
        rss_warm = rss_warm if rss_warm is not None else samples[0][1]
        summary = (f"layout={layout}: {load.reads} reads ({load.kinds}), "
                   f"{load.bytes / 2**20:.0f} MiB in {took:.1f}s "
                   f"({load.bytes / 2**20 / took:.0f} MiB/s), {len(load.mismatches)} "
                   f"mismatches, {len(load.errors)} errors; VmRSS after warm-up "
                   f"{rss_warm} KiB, end {rss_end} KiB, max "
                   f"{max(s[1] for s in samples)} KiB; trend (s, KiB) "
                   f"{samples[::max(1, len(samples) // 6)]}")
        print(summary)
        assert m.proc.poll() is None, m.describe()
        assert load.reads > READERS * 10, summary
        assert not load.mismatches, f"{summary}\nfirst mismatches: {load.mismatches[:10]}"
        assert not load.errors, f"{summary}\nfirst errors: {load.errors[:10]}"
        if not SANITIZED:
            assert rss_end <= rss_warm + RSS_SLACK_KIB, f"{summary}\nsamples: {samples}"
        # the mount still serves the reference after the storm
        for name, data in ref.items():
            assert read_file(m.join(name)) == data, name
