"""Driver of scripts/bench: the ckptfs benchmark suite.

Run it through scripts/bench, which builds the Release binaries first and passes
--build. Measurements (the ids the results table uses):

  P1  `ckptfs MAPPING MNT` (daemon mode: returns once mounted) + first stat of the
      index, for 1k..1M tensors, and for 100k tensors at 1 GiB vs 1 TiB.
  P2  sequential 1 MiB reads of every merged data file through a fresh mount vs the
      same source data files read directly, page cache hot, per data path (VARIANTS:
      the concatenated `single` file, served by the daemon through the FUSE page
      cache (-o cache=page) or by direct I/O (-o cache=direct); `shards` files, read
      by the kernel from the shards where FUSE passthrough is available; `shards`
      with -o passthrough=off, page cache or direct I/O; the concatenated file by direct
      I/O with -o io_uring=auto: FUSE over io_uring where the build, libfuse >= 3.18,
      and the kernel offer it, and an (extra) row of its ratio to /dev/fuse in P2-P4),
      with the page cache each byte read adds (/proc/meminfo). --variants measures a
      subset of these paths.
  P3  the same read repeated on the same mount (FUSE page cache, the shards' own, or
      for direct I/O the daemon again).
  P4  TensorFlow (TF1 Saver) restore of a ~2 GiB merged model from the mount, and
      through the TensorFlow plugin (ckptfs://MAPPING/model.ckpt, `ckptfs tf-plugin`;
      skipped when it was not built), vs from `ckptfs materialize` output on local
      disk.
  P5  time to a restored merged model: mount + restore vs a TensorFlow script that
      loads both sources, saves a merged copy, and restore from that copy.
  P6  daemon VmRSS/VmHWM (foreground daemon, /proc/PID/status) vs tensors, after the
      mount is ready and after reading every file.
  P7  the merge as PREFIX.safetensors (-o format=safetensors) read whole vs a local
      safetensors copy.
  P8  remote sources, from servers on 127.0.0.1 started here: time to mount (http from
      nginx; s3:// from s3s-fs, SigV4); a TF restore through the mount and through the
      plugin with a cold cache vs download-then-restore (every object fetched with
      parallel `curl --range`, then restored from the local copy); a restore after a
      remount with the cache warm vs from that local copy; the bytes nginx sent for a
      merge of every other tensor vs those tensors' bytes plus the indexes. Throughput
      rows use nginx: s3s-fs hashes (MD5) the whole object on every request (~8 s per
      range GET of a 1 GiB object), so it only serves the mount-time row (small objects).

Every input except TensorFlow's own output is written by tests/tools/bench_gen.c
(the project's bundle writer); big or many-tensor sources are sparse. Each
measurement is repeated; the table shows the median and [min-max]. Ratios are
taken between measurements of the same repetition, then summarized. Targets are
reported, never asserted: the exit status is non-zero only when a step fails.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import mmap
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
READ_BS = MiB                 # every timed read uses 1 MiB read(2) calls
MOUNT_TIMEOUT = 120.0
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
from pylib import mounting  # noqa: E402
from pylib import servers  # noqa: E402

FULL = {
    "p1_series": [1_000, 10_000, 100_000, 1_000_000],
    "p1_series_bytes_per_tensor": KiB,     # sparse
    "p1_size_tensors": 100_000,
    "p1_sizes": [GiB, TiB],                # sparse
    "p1_reps": 5,
    "p23_bytes": 2 * GiB, "p23_tensors": 64, "p23_reps": 7,   # dense, 2 sources
    "p4_reps": 7,                          # the P2/P3 model (~2 GiB)
    "p5_bytes": 4 * GiB, "p5_tensors": 64, "p5_reps": 5,      # dense, 2 sources
    "p6_reps": 3,                          # the P1 series sources
    "p8_bytes": 2 * GiB, "p8_tensors": 512, "p8_reps": 5,     # dense, 2 sources of 1 GiB
    "p8_mount_reps": 7,
}
QUICK = {
    "p1_series": [1_000, 10_000],
    "p1_series_bytes_per_tensor": KiB,
    "p1_size_tensors": 10_000,
    "p1_sizes": [GiB, TiB],
    "p1_reps": 2,
    "p23_bytes": 32 * MiB, "p23_tensors": 16, "p23_reps": 2,
    "p4_reps": 2,
    "p5_bytes": 32 * MiB, "p5_tensors": 16, "p5_reps": 2,
    "p6_reps": 2,
    "p8_bytes": 32 * MiB, "p8_tensors": 16, "p8_reps": 2,
    "p8_mount_reps": 3,
}
TARGETS = {
    "P1_100k_s": 0.3,          # mount + first stat, 100k tensors
    "P1_size_ratio": 1.1,      # 1 TiB / 1 GiB
    # per kind of data file (target_kind): one source shard whole, which FUSE
    # passthrough serves, or a file the daemon serves (the concatenation)
    "P2_ratio": {"one shard": 0.95, "daemon": 0.6},   # fresh mount / native
    "P3_ratio": {"one shard": 0.95, "daemon": 0.9},   # repeated read / native
    "P4_ratio": {"one shard": 1.05, "daemon": 1.3},   # mount restore / materialized restore
    "P4_plugin_ratio": 1.05,   # plugin restore / materialized restore
    "P5_speedup": 10.0,        # TF merge script + restore / mount + restore
    "P6_per_tensor": 64,       # bytes; + index size + 16 MiB
    "P6_fixed": 16 * MiB,
    "P8_mount_s": 0.5,         # remote mount (index objects only) + first stat
    "P8_restore_ratio": 1.0,   # cold mount + restore / download + local restore
    "P8_plugin_ratio": 1.0,    # cold plugin restore / download + local restore
    "P8_warm_ratio": 1.1,      # restore after a remount, cache warm / local restore
    "P8_bytes_ratio": 1.1,     # bytes the server sent / tensors mapped + indexes
}
ALL_STEPS = ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"]
P8_CONNECTIONS = 8             # download-then-restore: parallel range GETs per object

# The data paths P2-P4 compare: name -> (layout, extra mount options). The P2/P3
# model has two one-shard sources, so `single` is a concatenation (daemon path) and
# every `shards` file is one shard whole (passthrough where the kernel allows). The
# daemon's paths name their cache mode, so the rows mean the same whatever the
# default (-o cache=auto) picks.
VARIANTS = {
    "single": ("single", ["-o", "cache=page"]),
    "single-direct": ("single", ["-o", "cache=direct"]),
    "shards": ("shards", []),
    "shards-off": ("shards", ["-o", "passthrough=off", "-o", "cache=page"]),
    "shards-off-direct": ("shards", ["-o", "passthrough=off", "-o", "cache=direct"]),
    # FUSE over io_uring where the rows above take /dev/fuse (the default): a build with
    # libfuse >= 3.18 and the kernel's enable_uring on; else the same path as single-direct
    "single-direct-uring": ("single", ["-o", "cache=direct", "-o", "io_uring=auto"]),
}
PASSTHROUGH_LINE = "passthrough (the kernel reads the source shard)"
DIRECT_LINE = "data files the daemon serves use direct I/O"
# P4's informational second restore from the same mount, per daemon path
REPEAT_RESTORE = ("single", "single-direct")
# plot labels
URING_LINE = "io_uring in use"
SHORT = {"single-direct": "single\ndirect", "single-direct-uring": "single direct\nio_uring",
         "shards-off": "shards\noff",
         "shards-off-direct": "shards off\ndirect", "passthrough_hp": "pt_hp"}


class StepFailed(Exception):
    pass


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(argv: list, timeout: float = 3600, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, **kw)
    if r.returncode != 0:
        raise StepFailed(f"$ {shlex.join(map(str, argv))}\nexit status {r.returncode}\n"
                         f"{r.stdout[-2000:]}{r.stderr[-4000:]}")
    return r


def summarize(xs: list) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs),
            "n": len(xs), "samples": xs}


URING_PAIR = ("single-direct-uring", "single-direct")


def uring_ratio(per_variant: dict) -> dict | None:
    """single-direct-uring / single-direct, pair by pair (the two are measured in the
    same repetition, so the machine's drift cancels), if both were measured."""
    on, off = (per_variant.get(v) for v in URING_PAIR)
    if not on or not off or len(on) != len(off):
        return None
    return summarize([a / b for a, b in zip(on, off)])


def cleanup_all_mounts() -> None:
    """Stop every daemon still running (after an error or a signal)."""
    for problem in mounting.stop_all():
        log(f"cleanup: {problem}")


# ------------------------------------------------------------------ other load

class CpuWatch(threading.Thread):
    """Samples /proc every second to tell how much CPU processes that are not ours
    (not descendants of this one, not a daemon of our ckptfs binary) used during
    the run: the machine may be shared, and every number here is CPU-bound."""

    def __init__(self, own_binary: str):
        super().__init__(daemon=True)
        self.own_binary = own_binary
        self.first: dict = {}   # pid -> ticks when first seen (0 if born during the run)
        self.last: dict = {}
        self.info: dict = {}    # pid -> (ppid, comm, argv0)
        self.stop_event = threading.Event()
        self.t0 = time.monotonic()
        self.sample(initial=True)

    def sample(self, initial=False):
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            pid = int(d)
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
                fields = st[st.rindex(")") + 2:].split()
                ticks = int(fields[11]) + int(fields[12])
                if pid not in self.info:
                    with open(f"/proc/{d}/cmdline", "rb") as f:
                        argv0 = f.read().split(b"\0")[0].decode(errors="replace")
                    self.info[pid] = (int(fields[1]), st[st.index("(") + 1:st.rindex(")")],
                                      argv0)
                    self.first[pid] = ticks if initial else 0
            except (OSError, ValueError, IndexError):
                continue
            self.last[pid] = ticks

    def run(self):
        while not self.stop_event.wait(1.0):
            self.sample()

    def report(self) -> dict:
        self.stop_event.set()
        self.join(timeout=5)
        self.sample()
        me = os.getpid()

        def ours(pid, depth=0):
            if pid == me:
                return True
            info = self.info.get(pid)
            if not info or depth > 64:
                return False
            return info[2] == self.own_binary or ours(info[0], depth + 1)

        hz = os.sysconf("SC_CLK_TCK")
        per = {}
        for pid, last in self.last.items():
            if not ours(pid):
                used = (last - self.first.get(pid, last)) / hz
                if used > 0:
                    comm = self.info[pid][1]
                    per[comm] = per.get(comm, 0) + used
        wall = time.monotonic() - self.t0
        total = sum(per.values())
        top = sorted(per.items(), key=lambda kv: -kv[1])[:5]
        return {"foreign_cpu_seconds": round(total, 1), "wall_seconds": round(wall, 1),
                "foreign_share_of_all_cores": round(total / (wall * (os.cpu_count() or 1)), 3),
                "foreign_top": [[c, round(v, 1)] for c, v in top]}


# ------------------------------------------------------------------ I/O

# Page-aligned, as dd's: copies into a malloc'd bytearray (16 bytes past a page)
# ran at half the speed on this machine, for native and FUSE reads alike.
_buf = mmap.mmap(-1, READ_BS)


def read_files(paths: list) -> tuple:
    """Read each file to its end with 1 MiB read(2)s; (bytes, seconds)."""
    total = 0
    mv = memoryview(_buf)
    t = time.perf_counter()
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            while True:
                n = os.readv(fd, [mv])
                if n == 0:
                    break
                total += n
        finally:
            os.close(fd)
    return total, time.perf_counter() - t


# ------------------------------------------------------------------ inputs

def quote(word: str) -> str:
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Pair:
    """Two sources a and b written by bench_gen, and a mapping merging their roots."""

    def __init__(self, bench: "Bench", name: str, tensors: int, nbytes: int, sparse: bool):
        self.dir = os.path.join(bench.work, name)
        self.tensors = tensors
        self.nbytes = nbytes
        self.sparse = sparse
        half_t = tensors // 2
        half_b = (nbytes // 2) // 4 * 4
        self.sources = {
            "a": (os.path.join(self.dir, "a", "model"), half_t, half_b, 1),
            "b": (os.path.join(self.dir, "b", "model"), tensors - half_t, nbytes - half_b, 2),
        }
        self.mapping = os.path.join(self.dir, "merge.conf")
        self.bench = bench

    def create(self) -> "Pair":
        os.makedirs(self.dir, exist_ok=True)
        for sname, (prefix, n, nb, seed) in self.sources.items():
            params = {"tensors": n, "bytes": nb, "sparse": self.sparse, "name": sname,
                      "seed": seed}
            stamp = prefix + ".params.json"
            try:
                with open(stamp) as f:
                    if json.load(f) == params and os.path.exists(prefix + ".index"):
                        continue
            except (OSError, ValueError):
                pass
            os.makedirs(os.path.dirname(prefix), exist_ok=True)
            argv = [self.bench.bench_gen, prefix, "--tensors", str(n), "--bytes", str(nb),
                    "--name-prefix", sname, "--seed", str(seed)]
            if self.sparse:
                argv.append("--sparse")
            t = time.perf_counter()
            run(argv)
            log(f"  generated {prefix}: {n} tensors, {fmt_bytes(nb)}"
                f"{' sparse' if self.sparse else ''} in {time.perf_counter() - t:.1f}s")
            with open(stamp, "w") as f:
                json.dump(params, f)
            os.sync()  # no writeback of fresh inputs during the measurements
        with open(self.mapping, "w") as f:
            f.write("# generated by scripts/bench\n")
            for sname, (prefix, *_rest) in self.sources.items():
                f.write(f"source {sname} = {quote(prefix)}\n")
            for sname in self.sources:
                f.write(f"map {sname}:/ -> /\n")
        return self

    def data_files(self) -> list:
        return [p + ".data-00000-of-00001" for p, *_r in self.sources.values()]

    def warm(self) -> None:
        read_files(self.data_files())

    def variables(self) -> list:
        """[name, shape] of every tensor, as bench_gen lays them out."""
        out = []
        for sname, (_p, n, nb, _s) in self.sources.items():
            elems = nb // 4
            base, extra = divmod(elems, n)
            out += [[f"{sname}/layer_{i:06d}/w", [base + (1 if i < extra else 0)]]
                    for i in range(n)]
        return out

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def merged_data_files(mnt: str) -> list:
    return sorted(os.path.join(mnt, n) for n in os.listdir(mnt) if ".data-" in n)


def fmt_bytes(n: float) -> str:
    for unit, size in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n:.0f} B"


def fmt_count(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


# ------------------------------------------------------------------ remote (P8)

def link_or_copy(src: str, dst: str) -> None:
    """dst as a hard link to src (a server's copy without writing it), else a copy."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


@contextlib.contextmanager
def environment(changes: dict):
    """os.environ with changes (None: unset) for the block: what daemons and commands
    started in it inherit."""
    saved = {k: os.environ.get(k) for k in changes}
    try:
        for k, v in changes.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def object_size(url: str) -> int:
    """Content-Length of a HEAD request."""
    import urllib.request
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as r:
        return int(r.headers["Content-Length"])


def parallel_download(objects: list, connections: int) -> None:
    """Every (url, path): its size from a HEAD request, then its bytes by `connections`
    curl processes at once, each writing one range (`--range`) straight into the file
    at its offset (its stdout is the file, positioned there)."""
    procs = []
    try:
        for url, path in objects:
            size = object_size(url)
            with open(path, "wb") as f:
                f.truncate(size)
            parts = max(1, min(connections, -(-size // MiB)))
            step = -(-size // parts) if size else 0
            for start in range(0, size, step or 1):
                end = min(size, start + step) - 1
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.lseek(fd, start, os.SEEK_SET)
                    procs.append((url, start, end, subprocess.Popen(
                        ["curl", "-sS", "--fail", "--range", f"{start}-{end}", url],
                        stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.PIPE)))
                finally:
                    os.close(fd)
        for url, start, end, p in procs:
            _out, err = p.communicate(timeout=600)
            if p.returncode != 0:
                raise StepFailed(f"curl --range {start}-{end} {url}: exit {p.returncode}: "
                                 f"{err.decode(errors='replace').strip()}")
    finally:
        for *_r, p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def count_lines(path: str) -> int:
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def nginx_version() -> str:
    try:
        r = subprocess.run([servers.nginx_binary() or "nginx", "-v"], capture_output=True,
                           text=True, timeout=10)
        return r.stderr.strip().split("/")[-1]
    except (OSError, subprocess.TimeoutExpired):
        return "?"


# ------------------------------------------------------------------ TensorFlow

class TFWorker:
    """scripts/bench_tf.py in its own process: TensorFlow is imported once."""

    def __init__(self, python: str, log_path: str):
        self.logf = open(log_path, "ab")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        self.proc = subprocess.Popen([python, os.path.join(REPO, "scripts", "bench_tf.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.logf, text=True, env=env)
        self.log_path = log_path
        hello = self._answer()
        self.import_seconds = hello["import_seconds"]
        self.tf_version = hello["tf_version"]

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise StepFailed(f"TensorFlow worker died (log: {self.log_path})")
        ans = json.loads(line)
        if not ans.get("ok"):
            raise StepFailed(f"TensorFlow worker: {ans.get('error')} (log: {self.log_path})")
        return ans

    def call(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.logf.close()


# ------------------------------------------------------------------ the bench

class Bench:
    def __init__(self, args):
        self.args = args
        self.cfg = dict(QUICK if args.quick else FULL)
        if args.reps:
            for k in list(self.cfg):
                if k.endswith("_reps"):
                    self.cfg[k] = args.reps
        self.build = os.path.abspath(args.build)
        self.ckptfs = os.path.join(self.build, "ckptfs")
        self.bench_gen = os.path.join(self.build, "tests", "bench_gen")
        for b in (self.ckptfs, self.bench_gen):
            if not os.access(b, os.X_OK):
                raise SystemExit(f"bench: missing binary {b} (run scripts/bench)")
        self.out = os.path.abspath(args.out or os.path.join(self.build, "bench"))
        self.work = os.path.abspath(args.work or os.path.join(
            self.build, "bench-work-quick" if args.quick else "bench-work"))
        # outside the repository, so nothing that walks the tree wanders into it
        self.mnt_dir = tempfile.mkdtemp(prefix="ckptfs-bench.")
        self.mnt = os.path.join(self.mnt_dir, "mnt")
        self.daemon_log = os.path.join(self.work, "daemon.log")
        self.steps = [s.strip().upper() for s in args.only.split(",")] if args.only \
            else ALL_STEPS
        self.results: dict = {}
        self.rows: list = []
        self.failures: list = []
        self.tf: TFWorker | None = None
        self._plugin: str | None | bool = False   # False: not asked yet
        self._pairs: dict = {}

    # -- helpers

    def pair(self, name, tensors, nbytes, sparse) -> Pair:
        key = (name, tensors, nbytes, sparse)
        if key not in self._pairs:
            self._pairs[key] = Pair(self, name, tensors, nbytes, sparse).create()
        return self._pairs[key]

    def tf_worker(self) -> TFWorker:
        if self.tf is None:
            log("starting the TensorFlow worker")
            self.tf = TFWorker(sys.executable, os.path.join(self.work, "tf.log"))
            self.results.setdefault("meta", {})["tensorflow"] = self.tf.tf_version
            self.results["meta"]["tf_import_seconds"] = self.tf.import_seconds
        return self.tf

    def tf_plugin(self) -> str | None:
        """The TensorFlow plugin (`ckptfs tf-plugin`), registered once in the worker;
        None when it was not built."""
        if self._plugin is False:
            tf = self.tf_worker()
            r = subprocess.run([self.ckptfs, "tf-plugin"], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL)
            self._plugin = None
            if r.returncode == 0:
                tf.call(cmd="register", plugin=r.stdout.strip())
                self._plugin = r.stdout.strip()
            else:
                log(f"  no TensorFlow plugin ({r.stderr.strip()}): plugin rows skipped")
        return self._plugin

    def row(self, pid, what, result, target="", met=None):
        self.rows.append({"id": pid, "measurement": what, "result": result,
                          "target": target, "met": met})

    def mount(self, pair, layout=None, foreground=False, fmt=None, extra=()):
        """A mount of pair's mapping (or of a mapping file's path); in daemon mode unless
        foreground (then the daemon's output goes to daemon.log)."""
        mapping = pair if isinstance(pair, str) else pair.mapping
        options = ["-o", f"layout={layout}"] if layout else []
        options += ["-o", f"format={fmt}"] if fmt else []
        options += list(extra)
        # unmounting may find the mount busy (another process walking the tree):
        # retried, counted, not a failure by itself
        return mounting.mounted(self.ckptfs, mapping, self.mnt, *options,
                                foreground=foreground, log_path=self.daemon_log,
                                append_log=True, expect_clean_log=False,
                                mount_timeout=MOUNT_TIMEOUT, unmount_attempts=5)

    # -- P1

    def p1_mount_once(self, pair: Pair) -> dict:
        with self.mount(pair) as m:
            t = time.perf_counter()
            st = os.stat(m.join("model.ckpt.index"))
            stat_s = time.perf_counter() - t
            return {"cmd": m.cmd_seconds, "stat": stat_s, "total": m.cmd_seconds + stat_s,
                    "index_bytes": st.st_size}

    def p1(self):
        c = self.cfg
        reps = c["p1_reps"]
        series = []
        for n in c["p1_series"]:
            pair = self.pair(f"series_{n}", n, n * c["p1_series_bytes_per_tensor"], True)
            self.p1_mount_once(pair)  # untimed: first mount of these sources
            samples = [self.p1_mount_once(pair) for _ in range(reps)]
            res = {"tensors": n, "bytes": pair.nbytes,
                   "index_bytes": samples[0]["index_bytes"],
                   "total_s": summarize([s["total"] for s in samples]),
                   "cmd_s": summarize([s["cmd"] for s in samples]),
                   "stat_s": summarize([s["stat"] for s in samples])}
            series.append(res)
            log(f"  P1 {fmt_count(n)} tensors: {res['total_s']['median'] * 1e3:.1f} ms")
            tgt = f"≤ {TARGETS['P1_100k_s']} s" if n == 100_000 else ""
            met = res["total_s"]["median"] <= TARGETS["P1_100k_s"] if n == 100_000 else None
            self.row("P1", f"mount + first stat, {fmt_count(n)} tensors "
                     f"({fmt_bytes(pair.nbytes)} sparse, index {fmt_bytes(res['index_bytes'])})",
                     fmt_s(res["total_s"]), tgt, met)
        n = c["p1_size_tensors"]
        pairs = [self.pair(f"size_{fmt_bytes(sz).replace(' ', '')}", n, sz, True)
                 for sz in c["p1_sizes"]]
        for p in pairs:
            self.p1_mount_once(p)
        per = [[] for _ in pairs]
        for _ in range(reps):  # interleaved, so drift hits both alike
            for i, p in enumerate(pairs):
                per[i].append(self.p1_mount_once(p)["total"])
        ratios = [b / a for a, b in zip(per[0], per[-1])]
        size = {"tensors": n, "sizes": c["p1_sizes"],
                "total_s": [summarize(x) for x in per], "ratio": summarize(ratios)}
        for p, x in zip(pairs, per):
            self.row("P1", f"mount + first stat, {fmt_count(n)} tensors, "
                     f"{fmt_bytes(p.nbytes)} total (sparse)", fmt_s(summarize(x)))
        self.row("P1", f"ratio {fmt_bytes(pairs[-1].nbytes)} / {fmt_bytes(pairs[0].nbytes)}",
                 fmt_x(size["ratio"]), f"≤ {TARGETS['P1_size_ratio']}×",
                 size["ratio"]["median"] <= TARGETS["P1_size_ratio"])
        self.results["P1"] = {"series": series, "size": size}

    # -- P2 / P3

    def p23(self):
        c = self.cfg
        pair = self.pair("dense_p23", c["p23_tensors"], c["p23_bytes"], False)
        layouts = list(VARIANTS)
        native, fresh, repeat = [], {l: [] for l in layouts}, {l: [] for l in layouts}
        r_fresh, r_repeat = {l: [] for l in layouts}, {l: [] for l in layouts}
        extra_pc, native_pc = {l: [] for l in layouts}, []
        paths = {}
        pair.warm()
        ra = None
        for _ in range(c["p23_reps"]):
            for layout in layouts:
                pair.warm()
                before = page_cache_bytes()
                nb, dt = read_files(pair.data_files())
                native_pc.append((page_cache_bytes() - before) / nb)
                nat = nb / dt / 1e9
                native.append(nat)
                log_at = log_size(self.daemon_log)
                lay, extra = VARIANTS[layout]
                # foreground: the daemon's log says which path each file took
                with self.mount(pair, layout=lay, extra=extra, foreground=True) as m:
                    files = merged_data_files(m.path)
                    before = page_cache_bytes()
                    nb1, dt1 = read_files(files)
                    extra_pc[layout].append((page_cache_bytes() - before) / nb1)
                    nb2, dt2 = read_files(files)
                    if ra is None:  # the window the reads ran with
                        ra = fuse_readahead_kb(m.path)
                dlog = read_log_from(self.daemon_log, log_at)
                passed = dlog.count(PASSTHROUGH_LINE)
                paths[layout] = (f"passthrough ({passed} of {len(files)} files)" if passed
                                 else "daemon, direct I/O" if DIRECT_LINE in dlog
                                 else "daemon, page cache")
                if URING_LINE in dlog:
                    paths[layout] += ", io_uring"
                for got in (nb1, nb2):
                    if got != pair.nbytes:
                        raise StepFailed(f"read {got} bytes through the mount, "
                                         f"expected {pair.nbytes}")
                fresh[layout].append(nb1 / dt1 / 1e9)
                repeat[layout].append(nb2 / dt2 / 1e9)
                r_fresh[layout].append(nb1 / dt1 / 1e9 / nat)
                r_repeat[layout].append(nb2 / dt2 / 1e9 / nat)
            if os.access(PASSTHROUGH_HP, os.X_OK):
                hp = "passthrough_hp"
                for d in (fresh, repeat, r_fresh, r_repeat, extra_pc):
                    d.setdefault(hp, [])
                paths[hp] = "passthrough"
                pair.warm()
                nb, dt = read_files(pair.data_files())
                nat = nb / dt / 1e9
                with passthrough_hp_mount(pair.dir, self.mnt) as mnt:
                    files = [os.path.join(mnt, os.path.relpath(f, pair.dir))
                             for f in pair.data_files()]
                    before = page_cache_bytes()
                    nb1, dt1 = read_files(files)
                    extra_pc[hp].append((page_cache_bytes() - before) / nb1)
                    nb2, dt2 = read_files(files)
                fresh[hp].append(nb1 / dt1 / 1e9)
                repeat[hp].append(nb2 / dt2 / 1e9)
                r_fresh[hp].append(nb1 / dt1 / 1e9 / nat)
                r_repeat[hp].append(nb2 / dt2 / 1e9 / nat)
        layouts = list(fresh)
        res = {"bytes": pair.nbytes, "tensors": pair.tensors, "read_block": READ_BS,
               "fuse_read_ahead_kb": ra, "native_gbps": summarize(native),
               "paths": paths,
               "native_page_cache_per_byte": summarize(native_pc),
               "page_cache_per_byte": {l: summarize(v) for l, v in extra_pc.items()},
               "fresh_gbps": {l: summarize(v) for l, v in fresh.items()},
               "repeat_gbps": {l: summarize(v) for l, v in repeat.items()},
               "fresh_ratio": {l: summarize(v) for l, v in r_fresh.items()},
               "repeat_ratio": {l: summarize(v) for l, v in r_repeat.items()}}
        self.results["P2"] = {k: v for k, v in res.items() if not k.startswith("repeat")}
        self.results["P3"] = {k: v for k, v in res.items()
                              if k.startswith("repeat") or k in ("bytes", "native_gbps", "paths")}
        if "P2" in self.steps:
            self.row("P2", f"native read of the 2 source data files ({fmt_bytes(pair.nbytes)}, "
                     "page cache hot, 1 MiB reads)",
                     f"{fmt_gbps(res['native_gbps'])}; "
                     f"{res['native_page_cache_per_byte']['median']:+.2f} B page cache/B")
            for l in layouts:
                self.row("P2", f"fresh mount, {variant_label(l)}, {paths[l]}",
                         f"{fmt_gbps(res['fresh_gbps'][l])}; {fmt_x(res['fresh_ratio'][l])} native; "
                         f"{res['page_cache_per_byte'][l]['median']:+.2f} B page cache/B",
                         f"≥ {TARGETS['P2_ratio'][target_kind(l)]}× native",
                         res["fresh_ratio"][l]["median"] >= TARGETS["P2_ratio"][target_kind(l)])
            self.uring_row("P2", "fresh-mount read throughput (> 1: io_uring faster)",
                           r_fresh, paths)
        if "P3" in self.steps:
            for l in layouts:
                self.row("P3", f"repeated read, same mount, {variant_label(l)}, {paths[l]}",
                         f"{fmt_gbps(res['repeat_gbps'][l])}; {fmt_x(res['repeat_ratio'][l])} native",
                         f"≥ {TARGETS['P3_ratio'][target_kind(l)]}× native",
                         res["repeat_ratio"][l]["median"] >= TARGETS["P3_ratio"][target_kind(l)])
            self.uring_row("P3", "repeated-read throughput (> 1: io_uring faster)",
                           r_repeat, paths)
        log(f"  P2/P3 native {res['native_gbps']['median']:.2f} GB/s; fresh " +
            ", ".join(f"{l} {res['fresh_gbps'][l]['median']:.2f} "
                      f"({res['page_cache_per_byte'][l]['median']:+.2f} B/B)" for l in layouts) +
            "; repeat " + ", ".join(f"{l} {res['repeat_gbps'][l]['median']:.2f}" for l in layouts))

    # -- P4

    def p4(self):
        c = self.cfg
        pair = self.pair("dense_p23", c["p23_tensors"], c["p23_bytes"], False)
        tf = self.tf_worker()
        variables = pair.variables()
        mat_dir = os.path.join(self.work, "materialized")
        shutil.rmtree(mat_dir, ignore_errors=True)
        os.makedirs(mat_dir)
        mat = os.path.join(mat_dir, "model.ckpt")
        t = time.perf_counter()
        run([self.ckptfs, "materialize", pair.mapping, mat])
        mat_s = time.perf_counter() - t
        os.sync()
        mat_files = [os.path.join(mat_dir, n) for n in os.listdir(mat_dir) if ".data-" in n]
        plugin_uri = {}
        if self.tf_plugin():
            # the pair's mapping in each layout, beside it (relative sources stay valid)
            for l in ("single", "shards"):
                conf = f"{pair.mapping}.{l}.conf"
                with open(pair.mapping) as src, open(conf, "w") as dst:
                    dst.write(src.read() + f"\nlayout = {l}\n")
                plugin_uri[l] = "ckptfs://" + os.path.abspath(conf) + "/model.ckpt"
        try:
            pair.warm()
            read_files(mat_files)
            tf.call(cmd="restore", prefix=mat, vars=variables)  # untimed: builds the graph
            layouts = list(VARIANTS)
            base, mnt_s = [], {l: [] for l in layouts}
            ratios = {l: [] for l in layouts}
            plug_s = {l: [] for l in plugin_uri}
            plug_ratios = {l: [] for l in plugin_uri}
            again = {l: [] for l in REPEAT_RESTORE}
            again_ratio = {l: [] for l in REPEAT_RESTORE}
            for _ in range(c["p4_reps"]):
                pair.warm()
                read_files(mat_files)
                b = tf.call(cmd="restore", prefix=mat, vars=variables)["seconds"]
                base.append(b)
                for l in layouts:
                    lay, extra = VARIANTS[l]
                    with self.mount(pair, layout=lay, extra=extra) as m:
                        s = tf.call(cmd="restore", prefix=m.join("model.ckpt"),
                                    vars=variables)["seconds"]
                        if l in again:  # informational: same mount, warm
                            a = tf.call(cmd="restore", prefix=m.join("model.ckpt"),
                                        vars=variables)["seconds"]
                            again[l].append(a)
                            again_ratio[l].append(a / b)
                    mnt_s[l].append(s)
                    ratios[l].append(s / b)
                for l, u in plugin_uri.items():
                    s = tf.call(cmd="restore", prefix=u, vars=variables)["seconds"]
                    plug_s[l].append(s)
                    plug_ratios[l].append(s / b)
        finally:
            shutil.rmtree(mat_dir, ignore_errors=True)
        res = {"bytes": pair.nbytes, "variables": len(variables), "materialize_s": mat_s,
               "materialized_restore_s": summarize(base),
               "mount_restore_s": {l: summarize(v) for l, v in mnt_s.items()},
               "ratio": {l: summarize(v) for l, v in ratios.items()},
               "repeat_restore_s": {l: summarize(v) for l, v in again.items()},
               "repeat_ratio": {l: summarize(v) for l, v in again_ratio.items()},
               "plugin_restore_s": {l: summarize(v) for l, v in plug_s.items()},
               "plugin_ratio": {l: summarize(v) for l, v in plug_ratios.items()}}
        self.results["P4"] = res
        self.row("P4", f"TF restore, {len(variables)} variables ({fmt_bytes(pair.nbytes)}), "
                 f"from `ckptfs materialize` output (local disk, hot)", fmt_s(res["materialized_restore_s"]))
        for l in layouts:
            self.row("P4", f"TF restore from a fresh mount, {variant_label(l)}",
                     f"{fmt_s(res['mount_restore_s'][l])}; {fmt_x(res['ratio'][l])}",
                     f"≤ {TARGETS['P4_ratio'][target_kind(l)]}×",
                     res["ratio"][l]["median"] <= TARGETS["P4_ratio"][target_kind(l)])
        self.uring_row("P4", "restore time (< 1: io_uring faster)", ratios,
                       self.results.get("P2", {}).get("paths"))
        for l in res["plugin_ratio"]:
            self.row("P4", f"TF restore through the plugin (ckptfs://, no mount), layout={l}",
                     f"{fmt_s(res['plugin_restore_s'][l])}; {fmt_x(res['plugin_ratio'][l])}",
                     f"≤ {TARGETS['P4_plugin_ratio']}×",
                     res["plugin_ratio"][l]["median"] <= TARGETS["P4_plugin_ratio"])
        for l in REPEAT_RESTORE:
            self.row("P4", f"(extra) second restore from the same mount, {variant_label(l)}"
                     + (" (FUSE page cache warm)" if l == "single" else ""),
                     f"{fmt_s(res['repeat_restore_s'][l])}; {fmt_x(res['repeat_ratio'][l])}")
        log(f"  P4 materialized {res['materialized_restore_s']['median']:.2f}s, mount " +
            ", ".join(f"{l} {res['mount_restore_s'][l]['median']:.2f}s" for l in layouts))

    def uring_row(self, step: str, what: str, per_variant: dict, paths: dict | None):
        """The (extra) row of io_uring on / off on the direct-I/O daemon path."""
        r = uring_ratio(per_variant)
        if r is None:
            return
        self.results[step]["uring_ratio"] = r
        # P4 mounts in the background: P2's foreground log says which way requests came
        note = ("" if paths is None else "" if "io_uring" in paths.get(URING_PAIR[0], "")
                else " (io_uring was not in use: libfuse < 3.18 or enable_uring off)")
        self.row(step, f"(extra) io_uring on / off, layout=single cache=direct: {what}, "
                 f"pairs of one repetition{note}", fmt_x(r))

    # -- P5

    def p5(self):
        c = self.cfg
        pair = self.pair("dense_p5", c["p5_tensors"], c["p5_bytes"], False)
        tf = self.tf_worker()
        variables = pair.variables()
        sources = [p for p, *_r in pair.sources.values()]
        out_dir = os.path.join(self.work, "tf_merged")
        merge_s, restore_s, base = [], [], []
        mount_s, mrestore_s, ours, speedup = [], [], [], []
        try:
            for _ in range(c["p5_reps"]):
                shutil.rmtree(out_dir, ignore_errors=True)
                os.makedirs(out_dir)
                out = os.path.join(out_dir, "model.ckpt")
                pair.warm()
                mg = tf.call(cmd="merge", sources=sources, out=out)["seconds"]
                rs = tf.call(cmd="restore", prefix=out, vars=variables)["seconds"]
                shutil.rmtree(out_dir, ignore_errors=True)
                os.sync()  # the deleted copy leaves no writeback behind
                pair.warm()
                with self.mount(pair) as m:
                    ms = m.cmd_seconds
                    mr = tf.call(cmd="restore", prefix=m.join("model.ckpt"),
                                 vars=variables)["seconds"]
                merge_s.append(mg), restore_s.append(rs), base.append(mg + rs)
                mount_s.append(ms), mrestore_s.append(mr), ours.append(ms + mr)
                speedup.append((mg + rs) / (ms + mr))
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        res = {"bytes": pair.nbytes, "variables": len(variables),
               "baseline": {"merge_s": summarize(merge_s), "restore_s": summarize(restore_s),
                            "total_s": summarize(base)},
               "ckptfs": {"mount_s": summarize(mount_s), "restore_s": summarize(mrestore_s),
                          "total_s": summarize(ours)},
               "speedup": summarize(speedup),
               "tf_import_s_excluded": tf.import_seconds}
        self.results["P5"] = res
        self.row("P5", f"TF script: load both sources + save merged copy "
                 f"({fmt_bytes(pair.nbytes)}) + restore",
                 f"{fmt_s(res['baseline']['total_s'])} (merge {res['baseline']['merge_s']['median']:.2f} s"
                 f" + restore {res['baseline']['restore_s']['median']:.2f} s)")
        self.row("P5", "`ckptfs MAPPING MNT` + TF restore from the mount",
                 f"{fmt_s(res['ckptfs']['total_s'])} (mount {res['ckptfs']['mount_s']['median'] * 1e3:.0f} ms"
                 f" + restore {res['ckptfs']['restore_s']['median']:.2f} s); "
                 f"{fmt_x(res['speedup'])} faster",
                 f"≥ {TARGETS['P5_speedup']:g}× faster",
                 res["speedup"]["median"] >= TARGETS["P5_speedup"])
        imp = tf.import_seconds
        self.row("P5", f"(extra) speedup counting the merge script's own TensorFlow import "
                 f"({imp:.1f} s)",
                 fmt_x(summarize([(b + imp) / o for b, o in zip(base, ours)])))
        log(f"  P5 baseline {res['baseline']['total_s']['median']:.2f}s, ckptfs "
            f"{res['ckptfs']['total_s']['median']:.2f}s")

    # -- P6

    def p6(self):
        c = self.cfg
        series = []
        for n in c["p1_series"]:
            pair = self.pair(f"series_{n}", n, n * c["p1_series_bytes_per_tensor"], True)
            ready_rss, ready_hwm, read_rss, read_hwm = [], [], [], []
            index_bytes = None
            for _ in range(c["p6_reps"]):
                with self.mount(pair, foreground=True) as m:
                    index_bytes = os.stat(m.join("model.ckpt.index")).st_size
                    s1 = m.memory()
                    files = sorted(m.join(f) for f in os.listdir(m.path))
                    nb, _dt = read_files(files)
                    s2 = m.memory()
                if nb < pair.nbytes:
                    raise StepFailed(f"read {nb} bytes from the mount, expected "
                                     f">= {pair.nbytes}")
                ready_rss.append(s1["VmRSS"]), ready_hwm.append(s1["VmHWM"])
                read_rss.append(s2["VmRSS"]), read_hwm.append(s2["VmHWM"])
            target = index_bytes + TARGETS["P6_per_tensor"] * n + TARGETS["P6_fixed"]
            res = {"tensors": n, "index_bytes": index_bytes, "target_bytes": target,
                   "ready_rss": summarize(ready_rss), "ready_hwm": summarize(ready_hwm),
                   "read_rss": summarize(read_rss), "read_hwm": summarize(read_hwm)}
            series.append(res)
            rss, hwm = res["read_rss"]["median"], res["read_hwm"]["median"]
            self.row("P6", f"daemon memory, {fmt_count(n)} tensors (index {fmt_bytes(index_bytes)}): "
                     "VmRSS ready / after full read; VmHWM",
                     f"{mib(res['ready_rss']['median'])} / {mib(rss)}; HWM {mib(hwm)}"
                     f" (RSS {'≤' if rss <= target else '>'} target, "
                     f"HWM {'≤' if hwm <= target else '>'} target)",
                     f"≤ {mib(target)}", rss <= target and hwm <= target)
            log(f"  P6 {fmt_count(n)}: RSS {mib(rss)}, HWM {mib(hwm)}, target {mib(target)}")
        self.results["P6"] = {"series": series,
                              "target": "index bytes + 64 B/tensor + 16 MiB"}

    # -- running

    def step(self, name, fn):
        t = time.perf_counter()
        log(f"{name} ...")
        try:
            fn()
            log(f"{name} done in {time.perf_counter() - t:.1f}s")
        except Exception as e:
            msg = f"{name} FAILED: {e}"
            log(msg)
            traceback.print_exc(file=sys.stderr)
            self.failures.append({"step": name, "error": str(e)[-4000:]})
            self.row(name.split("/")[0], f"**step failed**: {str(e).splitlines()[0][:200]}",
                     "—", "", False)
            if os.path.exists(self.daemon_log):
                with open(self.daemon_log, errors="replace") as f:
                    tail = f.read()[-2000:]
                if tail:
                    log(f"daemon log tail:\n{tail}")

    # -- P7

    def p7(self):
        """The merge as PREFIX.safetensors (-o format=safetensors) read whole, against the
        same bytes from a local copy (materialize --format safetensors), page cache hot."""
        c = self.cfg
        pair = self.pair("dense_p23", c["p23_tensors"], c["p23_bytes"], False)
        local = os.path.join(self.work, "p7_local")
        run([self.ckptfs, "materialize", "--force", "--format", "safetensors", pair.mapping,
             local])
        local += ".safetensors"
        size = os.path.getsize(local)
        native, fresh, repeat = [], [], []
        for _ in range(c["p23_reps"]):
            pair.warm()
            read_files([local])
            nb, dt = read_files([local])
            native.append(nb / dt / 1e9)
            with self.mount(pair, fmt="safetensors") as m:
                path = os.path.join(m.path, os.listdir(m.path)[0])
                nb1, dt1 = read_files([path])
                nb2, dt2 = read_files([path])
            if not nb == nb1 == nb2 == size:
                raise StepFailed(f"read {nb1}/{nb2} bytes of the view, {nb} of the copy, "
                                 f"expected {size}")
            fresh.append(nb1 / dt1 / 1e9)
            repeat.append(nb2 / dt2 / 1e9)
        res = {"bytes": size, "local_gbps": summarize(native), "fresh_gbps": summarize(fresh),
               "repeat_gbps": summarize(repeat),
               "fresh_ratio": summarize([f / n for f, n in zip(fresh, native)]),
               "repeat_ratio": summarize([r / n for r, n in zip(repeat, native)])}
        self.results["P7"] = res
        self.row("P7", f"local safetensors copy read whole ({fmt_bytes(size)}, page cache hot, "
                 "1 MiB reads)", fmt_gbps(res["local_gbps"]))
        self.row("P7", "PREFIX.safetensors of a fresh mount (-o format=safetensors)",
                 f"{fmt_gbps(res['fresh_gbps'])}; {fmt_x(res['fresh_ratio'])} the copy")
        self.row("P7", "PREFIX.safetensors, repeated read, same mount",
                 f"{fmt_gbps(res['repeat_gbps'])}; {fmt_x(res['repeat_ratio'])} the copy")

    # -- P8

    def p8(self):
        """Remote sources (`http://` from nginx, `s3://` from s3s-fs, on 127.0.0.1)."""
        c = self.cfg
        if not servers.nginx_binary():
            raise StepFailed("nginx not found (/usr/sbin/nginx): run scripts/install-deps")
        if not shutil.which("curl"):
            raise StepFailed("curl not found: download-then-restore needs it")
        pair = self.pair("remote_p8", c["p8_tensors"], c["p8_bytes"], False)
        top = os.path.join(self.work, "p8")
        shutil.rmtree(top, ignore_errors=True)
        os.makedirs(top)
        www = os.path.join(top, "www")
        for sname, (prefix, *_r) in pair.sources.items():
            servers.upload_prefix(prefix, lambda suffix, src, sname=sname: link_or_copy(
                src, os.path.join(www, sname, "model" + suffix)))
        variables = pair.variables()
        names = {s: [n for n, _shape in variables if n.startswith(s + "/")]
                 for s in pair.sources}
        index_bytes = sum(os.path.getsize(p + ".index") for p, *_r in pair.sources.values())
        env = {"CKPTFS_CACHE_DIR": os.path.join(top, "default-cache"),
               "CKPTFS_CACHE_SIZE": None, "CKPTFS_REMOTE_TIMEOUT": None}
        try:
            with servers.NginxServer(www, os.path.join(top, "nginx")) as ng, \
                    environment(env):
                urls = {s: f"{ng.http_base_url}/{s}/model" for s in pair.sources}
                res = {"bytes": pair.nbytes, "tensors": pair.tensors,
                       "index_bytes": index_bytes, "server": "nginx " + nginx_version(),
                       "page_cache": "hot: the served files are read before each repetition"}
                self.p8_mount_time(pair, urls, top, res)
                self.p8_restores(pair, urls, top, www, names, ng, res)
                self.p8_bytes(pair, urls, top, ng, res)
                self.results["P8"] = res
        finally:
            shutil.rmtree(top, ignore_errors=True)

    def p8_mapping(self, path: str, urls: dict, tensors: list | None = None,
                   layout="single") -> str:
        """A mapping of the remote sources (every tensor, or only `tensors`), written to
        a new file (a new inode: the plugin rebuilds its plan for it)."""
        lines = ["# generated by scripts/bench (P8)"]
        lines += [f"source {s} = {u}" for s, u in urls.items()]
        if tensors is None:
            lines += [f"map {s}:/ -> /" for s in urls]
        else:
            lines += [f"map {n.split('/')[0]}:{n} -> {n}" for n in tensors]
        lines.append(f"layout = {layout}")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
        return path

    def p8_mount_once(self, mapping: str, cache: str) -> float:
        """`ckptfs MAPPING MNT` with a cold cache + the first stat of the index."""
        shutil.rmtree(cache, ignore_errors=True)
        with self.mount(mapping, extra=["-o", f"cache_dir={cache}"]) as m:
            t = time.perf_counter()
            os.stat(m.join("model.ckpt.index"))
            total = m.cmd_seconds + time.perf_counter() - t
        shutil.rmtree(cache, ignore_errors=True)
        return total

    def p8_mount_time(self, pair: Pair, urls: dict, top: str, res: dict):
        c = self.cfg
        reps = c["p8_mount_reps"]
        cache = os.path.join(top, "cache-mount")
        mapping = self.p8_mapping(os.path.join(top, "mount.conf"), urls)
        self.p8_mount_once(mapping, cache)   # untimed: the first of these
        res["mount_s"] = summarize([self.p8_mount_once(mapping, cache) for _ in range(reps)])
        med = res["mount_s"]["median"]
        self.row("P8", f"mount of 2 remote sources over http (nginx, 127.0.0.1), "
                 f"{fmt_count(pair.tensors)} tensors, {fmt_bytes(pair.nbytes)}, cold cache: "
                 f"`ckptfs MAPPING MNT` + first stat (fetches the .index objects, "
                 f"{fmt_bytes(res['index_bytes'])})",
                 fmt_s(res["mount_s"]), f"≤ {TARGETS['P8_mount_s']} s",
                 med <= TARGETS["P8_mount_s"])
        log(f"  P8 mount (http) {med * 1e3:.0f} ms")
        # s3:// (SigV4) from s3s-fs: the same number of tensors, 1 KiB each (sparse),
        # since s3s-fs hashes a whole object for every request, the one-byte GET that
        # pins a data object's version included
        binary = servers.s3s_fs_binary()
        if not binary:
            self.row("P8", "mount of 2 s3:// sources (s3s-fs): skipped, s3s-fs not built "
                     "(scripts/install-deps)", "—")
            return
        small = self.pair("remote_p8_s3", pair.tensors, pair.tensors * KiB, True)
        root = os.path.join(top, "s3root")
        for sname, (prefix, *_r) in small.sources.items():
            servers.upload_prefix(prefix, lambda suffix, src, sname=sname: link_or_copy(
                src, os.path.join(root, "bench", sname, "model" + suffix)))
        with servers.S3Server(root) as s3, environment(dict(
                s3.env(), AWS_SHARED_CREDENTIALS_FILE=os.path.join(top, "no-credentials"),
                AWS_ENDPOINT_URL_S3=None, AWS_PROFILE=None, AWS_SESSION_TOKEN=None,
                AWS_DEFAULT_REGION=None)):
            s3map = self.p8_mapping(os.path.join(top, "s3.conf"),
                                    {s: f"s3://bench/{s}/model" for s in small.sources})
            self.p8_mount_once(s3map, cache)
            res["s3_mount_s"] = summarize([self.p8_mount_once(s3map, cache)
                                           for _ in range(reps)])
        med = res["s3_mount_s"]["median"]
        self.row("P8", f"mount of 2 s3:// sources (s3s-fs, SigV4 signed, 127.0.0.1), "
                 f"{fmt_count(small.tensors)} tensors of 1 KiB (s3s-fs hashes the whole object "
                 "on every request: no data rows from it), cold cache: mount + first stat",
                 fmt_s(res["s3_mount_s"]), f"≤ {TARGETS['P8_mount_s']} s",
                 med <= TARGETS["P8_mount_s"])
        log(f"  P8 mount (s3) {med * 1e3:.0f} ms")

    def p8_restores(self, pair: Pair, urls: dict, top: str, www: str, names: dict, ng,
                    res: dict):
        c = self.cfg
        tf = self.tf_worker()
        plugin = self.tf_plugin()
        variables = pair.variables()
        mapping = self.p8_mapping(os.path.join(top, "remote.conf"), urls)
        plugin_conf = os.path.join(top, "plugin.conf")
        dl_dir = os.path.join(top, "download")
        objects = []   # (url, local path)
        for sname, (prefix, *_r) in pair.sources.items():
            for f in sorted(os.listdir(os.path.join(www, sname))):
                objects.append((f"{urls[sname].rsplit('/', 1)[0]}/{f}",
                                os.path.join(dl_dir, sname, f)))
        groups = [[os.path.join(dl_dir, s, "model"), names[s]] for s in pair.sources]
        cache = os.path.join(top, "cache")

        def download() -> float:
            shutil.rmtree(dl_dir, ignore_errors=True)
            for s in pair.sources:
                os.makedirs(os.path.join(dl_dir, s))
            t = time.perf_counter()
            parallel_download(objects, P8_CONNECTIONS)
            return time.perf_counter() - t

        # untimed: builds the graph and its Savers, and runs every path once
        pair.warm()
        download()
        tf.call(cmd="restore", groups=groups, vars=variables)
        shutil.rmtree(cache, ignore_errors=True)
        with self.mount(mapping, extra=["-o", f"cache_dir={cache}"]) as m:
            tf.call(cmd="restore", prefix=m.join("model.ckpt"), vars=variables)
        shutil.rmtree(cache, ignore_errors=True)
        os.sync()
        # the same merge of the downloaded copy, through the mount: what the warm remote
        # restore would be were its sources local
        local_mapping = self.p8_mapping(os.path.join(top, "local.conf"),
                                        {s: os.path.join(dl_dir, s, "model")
                                         for s in pair.sources})
        k = ("dl_s", "local_s", "base_s", "mount_s", "restore_s", "cold_s", "ratio",
             "remount_s", "warm_s", "warm_ratio", "warm_sent", "plugin_s", "plugin_ratio",
             "local_mount_s", "warm_vs_local_mount")
        r = {n: [] for n in k}
        for _ in range(c["p8_reps"]):
            pair.warm()   # the server's files: page cache hot
            dl = download()
            lr = tf.call(cmd="restore", groups=groups, vars=variables)["seconds"]
            os.sync()     # the copy's writeback is not left to the next measurement
            base = dl + lr
            r["dl_s"].append(dl), r["local_s"].append(lr), r["base_s"].append(base)
            shutil.rmtree(cache, ignore_errors=True)
            with self.mount(mapping, extra=["-o", f"cache_dir={cache}"]) as m:
                ms = m.cmd_seconds
                rs = tf.call(cmd="restore", prefix=m.join("model.ckpt"),
                             vars=variables)["seconds"]
            os.sync()
            r["mount_s"].append(ms), r["restore_s"].append(rs)
            r["cold_s"].append(ms + rs), r["ratio"].append((ms + rs) / base)
            sent = ng.sent_bytes()
            with self.mount(mapping, extra=["-o", f"cache_dir={cache}"]) as m:
                wm = m.cmd_seconds
                ws = tf.call(cmd="restore", prefix=m.join("model.ckpt"),
                             vars=variables)["seconds"]
            r["warm_sent"].append(ng.sent_bytes() - sent)
            r["remount_s"].append(wm), r["warm_s"].append(ws)
            r["warm_ratio"].append(ws / lr)
            with self.mount(local_mapping) as m:
                lm = tf.call(cmd="restore", prefix=m.join("model.ckpt"),
                             vars=variables)["seconds"]
            r["local_mount_s"].append(lm), r["warm_vs_local_mount"].append(ws / lm)
            shutil.rmtree(cache, ignore_errors=True)
            if plugin:
                # the plugin's store reads CKPTFS_CACHE_DIR when it builds a plan: a new
                # mapping file (inode) makes it build one, with this cold cache
                tf.call(cmd="setenv", env={"CKPTFS_CACHE_DIR": cache})
                self.p8_mapping(plugin_conf, urls)
                ps = tf.call(cmd="restore", prefix=f"ckptfs://{plugin_conf}/model.ckpt",
                             vars=variables)["seconds"]
                r["plugin_s"].append(ps), r["plugin_ratio"].append(ps / base)
                shutil.rmtree(cache, ignore_errors=True)
            os.sync()
        shutil.rmtree(dl_dir, ignore_errors=True)
        sm = {n: summarize(v) for n, v in r.items() if v}
        res.update(sm)
        res["download_connections_per_object"] = P8_CONNECTIONS
        gb = pair.nbytes / 1e9
        self.row("P8", f"download-then-restore: every object of both sources "
                 f"({fmt_bytes(pair.nbytes)}) fetched from nginx by {P8_CONNECTIONS} parallel "
                 "`curl --range` per object, then TF restore of all "
                 f"{len(variables)} variables from the local copy (a Saver per source)",
                 f"{fmt_s(sm['base_s'])} (download {sm['dl_s']['median']:.2f} s, "
                 f"{gb / sm['dl_s']['median']:.2f} GB/s + restore {sm['local_s']['median']:.2f} s)")
        self.row("P8", "`ckptfs MAPPING MNT` + TF restore through the mount, cold cache "
                 "(a fresh cache_dir), http from nginx",
                 f"{fmt_s(sm['cold_s'])} (mount {sm['mount_s']['median'] * 1e3:.0f} ms + "
                 f"restore {sm['restore_s']['median']:.2f} s, "
                 f"{gb / sm['cold_s']['median']:.2f} GB/s); {fmt_x(sm['ratio'])} "
                 "download-then-restore",
                 f"≤ {TARGETS['P8_restore_ratio']}×",
                 sm["ratio"]["median"] <= TARGETS["P8_restore_ratio"])
        if "plugin_s" in sm:
            self.row("P8", "TF restore through the plugin (ckptfs://MAPPING/model.ckpt, no "
                     "mount), cold cache",
                     f"{fmt_s(sm['plugin_s'])}; {fmt_x(sm['plugin_ratio'])} "
                     "download-then-restore",
                     f"≤ {TARGETS['P8_plugin_ratio']}×",
                     sm["plugin_ratio"]["median"] <= TARGETS["P8_plugin_ratio"])
        else:
            self.row("P8", "TF restore through the plugin: skipped, the plugin was not built",
                     "—")
        self.row("P8", "TF restore from the local copy (the download above, page cache hot)",
                 fmt_s(sm["local_s"]))
        self.row("P8", "remount with the same cache (warm) + TF restore through the mount",
                 f"restore {fmt_s(sm['warm_s'])} (remount "
                 f"{sm['remount_s']['median'] * 1e3:.0f} ms, nginx sent "
                 f"{fmt_bytes(sm['warm_sent']['median'])}); {fmt_x(sm['warm_ratio'])} "
                 "the local copy",
                 f"≤ {TARGETS['P8_warm_ratio']}×",
                 sm["warm_ratio"]["median"] <= TARGETS["P8_warm_ratio"])
        self.row("P8", "(extra) the same merge of the local copy, through the mount "
                 "(the daemon's read path with local sources)",
                 f"restore {fmt_s(sm['local_mount_s'])}; the warm remote restore is "
                 f"{fmt_x(sm['warm_vs_local_mount'])} this")
        log(f"  P8 download+restore {sm['base_s']['median']:.2f}s, mount+restore "
            f"{sm['cold_s']['median']:.2f}s, plugin "
            f"{sm.get('plugin_s', {}).get('median', float('nan')):.2f}s, warm "
            f"{sm['warm_s']['median']:.2f}s vs local {sm['local_s']['median']:.2f}s")

    def p8_bytes(self, pair: Pair, urls: dict, top: str, ng, res: dict):
        """What nginx sent (/proc/PID/io wchar: bodies, headers and its access-log
        lines) for a merge of every other tensor of each source."""
        c = self.cfg
        tf = self.tf_worker()
        picked = pair.variables()[::2]
        needed_t = sum(4 * shape[0] for _n, shape in picked)
        needed = needed_t + res["index_bytes"]
        mapping = self.p8_mapping(os.path.join(top, "half.conf"), urls,
                                  [n for n, _s in picked])
        cache = os.path.join(top, "cache-half")
        access = os.path.join(ng.run_dir, "access.log")

        def measure(layout: str) -> dict:
            shutil.rmtree(cache, ignore_errors=True)
            b0, q0 = ng.sent_bytes(), count_lines(access)
            with self.mount(mapping, layout=layout,
                            extra=["-o", f"cache_dir={cache}"]) as m:
                mounted = ng.sent_bytes() - b0
                rs = tf.call(cmd="restore", prefix=m.join("model.ckpt"),
                             vars=picked)["seconds"]
                restored = ng.sent_bytes() - b0
                read_files(merged_data_files(m.path))
                whole = ng.sent_bytes() - b0
            requests = count_lines(access) - q0
            shutil.rmtree(cache, ignore_errors=True)
            return {"mount": mounted, "restore": restored, "whole": whole,
                    "requests": requests, "restore_s": rs}

        pair.warm()
        samples = [measure("single") for _ in range(c["p8_reps"])]
        shards = measure("shards")   # informational, once
        ratio = summarize([s["restore"] / needed for s in samples])
        res["half"] = {"tensors": len(picked), "tensor_bytes": needed_t, "needed": needed,
                       "samples": samples, "ratio": ratio,
                       "whole_ratio": summarize([s["whole"] / needed for s in samples]),
                       "shards": shards}
        med = statistics.median
        self.row("P8", f"bytes nginx sent for a merge of every other tensor "
                 f"({len(picked)} of {pair.tensors}, {fmt_bytes(needed_t)} + "
                 f"{fmt_bytes(res['index_bytes'])} of indexes), mount + TF restore, "
                 "layout=single",
                 f"{mib(med([s['restore'] for s in samples]))} in "
                 f"{med([s['requests'] for s in samples]):.0f} requests (mount alone "
                 f"{fmt_bytes(med([s['mount'] for s in samples]))}); "
                 f"{fmt_x(ratio)} needed",
                 f"≤ {TARGETS['P8_bytes_ratio']}×",
                 ratio["median"] <= TARGETS["P8_bytes_ratio"])
        self.row("P8", "(extra) the same, then every merged data file read whole",
                 f"{mib(med([s['whole'] for s in samples]))}; "
                 f"{fmt_x(res['half']['whole_ratio'])} needed")
        self.row("P8", "(extra) the same merge, -o layout=shards (a data file per source "
                 "shard, its unmapped tensors served as zeros), once",
                 f"{mib(shards['restore'])} after the restore, {mib(shards['whole'])} after "
                 f"reading every file; {shards['restore'] / needed:.2f}× / "
                 f"{shards['whole'] / needed:.2f}× needed")
        log(f"  P8 half merge: {res['half']['ratio']['median']:.3f}x needed (single), "
            f"shards {shards['restore'] / needed:.2f}x")

    def run(self) -> int:
        t0 = time.perf_counter()
        os.makedirs(self.work, exist_ok=True)
        os.makedirs(self.out, exist_ok=True)
        if mounting.is_mounted(self.mnt):
            mounting.fusermount("-u", "-z", self.mnt)
        self.results["meta"] = machine_info(self)
        watch = CpuWatch(self.ckptfs)
        watch.start()
        try:
            if "P1" in self.steps:
                self.step("P1", self.p1)
            if "P2" in self.steps or "P3" in self.steps:
                self.step("P2/P3", self.p23)
            if "P4" in self.steps:
                self.step("P4", self.p4)
            if "P5" in self.steps:
                self.step("P5", self.p5)
            if "P6" in self.steps:
                self.step("P6", self.p6)
            if "P7" in self.steps:
                self.step("P7", self.p7)
            if "P8" in self.steps:
                self.step("P8", self.p8)
        finally:
            cleanup_all_mounts()
            if self.tf:
                self.tf.close()
        self.results["meta"]["seconds"] = time.perf_counter() - t0
        self.results["meta"]["loadavg_end"] = os.getloadavg()
        self.results["meta"]["other_load"] = watch.report()
        self.results["meta"]["unmount_busy_retries"] = mounting.Daemon.busy_retries
        if not mounting.is_mounted(self.mnt):
            shutil.rmtree(self.mnt_dir, ignore_errors=True)
        self.results["rows"] = self.rows
        self.results["failures"] = self.failures
        self.results["targets"] = TARGETS
        self.results["config"] = self.cfg
        table = markdown_table(self.rows)
        print(table)
        try:
            plots = make_plots(self.results, self.out)
        except Exception as e:
            plots = []
            self.failures.append({"step": "plots", "error": str(e)})
            log(f"plots FAILED: {e}")
            traceback.print_exc(file=sys.stderr)
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1, default=str)
            f.write("\n")
        with open(os.path.join(self.out, "README-section.md"), "w") as f:
            f.write(readme_section(self.results, table, plots, self.out))
        log(f"wrote {self.out}/results.json, README-section.md and {len(plots)} plots "
            f"in {time.perf_counter() - t0:.0f}s")
        if not self.args.keep_work:
            for p in self._pairs.values():
                p.remove()
            shutil.rmtree(self.work, ignore_errors=True)
        if self.failures:
            log(f"{len(self.failures)} step(s) failed: "
                + ", ".join(f["step"] for f in self.failures))
            return 1
        return 0


# ------------------------------------------------------------------ reporting

PASSTHROUGH_HP = os.path.join(REPO, "build-deps", "libfuse-3.17", "bin", "passthrough_hp")


@contextlib.contextmanager
def passthrough_hp_mount(src: str, mnt: str):
    """libfuse's passthrough_hp example (from the same libfuse build) serving src at mnt:
    the peer that shows what FUSE passthrough gives on this machine."""
    os.makedirs(mnt, exist_ok=True)
    p = subprocess.Popen([PASSTHROUGH_HP, "--foreground", src, mnt],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not os.path.ismount(mnt):
            if p.poll() is not None or time.monotonic() > deadline:
                raise StepFailed(f"passthrough_hp did not mount {mnt} (exit {p.poll()})")
            time.sleep(0.01)
        yield mnt
    finally:
        mounting.force_unmount_all(mnt)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def target_kind(name: str) -> str:
    """Which targets a data path answers to: the `shards` files are each one source shard
    whole (FUSE passthrough's case, and the peer's), every other path is the daemon's."""
    return "one shard" if name in ("shards", "passthrough_hp") else "daemon"


def variant_label(name: str) -> str:
    if name == "passthrough_hp":
        return "libfuse passthrough_hp (peer)"
    lay, extra = VARIANTS[name]
    return " ".join([f"layout={lay}"] + [e for e in extra if e != "-o"])


def page_cache_bytes() -> int:
    """The system's page cache (Cached in /proc/meminfo), in bytes."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Cached:"):
                return int(line.split()[1]) * KiB
    raise StepFailed("no Cached: line in /proc/meminfo")


def log_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def read_log_from(path: str, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def fmt_s(s: dict) -> str:
    m, lo, hi = s["median"], s["min"], s["max"]
    if m < 1:
        return f"{m * 1e3:.1f} ms [{lo * 1e3:.1f}–{hi * 1e3:.1f}]"
    return f"{m:.2f} s [{lo:.2f}–{hi:.2f}]"


def fmt_x(s: dict) -> str:
    return f"{s['median']:.2f}× [{s['min']:.2f}–{s['max']:.2f}]"


def fmt_gbps(s: dict) -> str:
    return f"{s['median']:.2f} GB/s [{s['min']:.2f}–{s['max']:.2f}]"


def mib(n: float) -> str:
    return f"{n / MiB:.1f} MiB"


def markdown_table(rows: list) -> str:
    out = ["| id | measurement | median [min–max] | target | met |",
           "|---|---|---|---|---|"]
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        out.append(f"| {r['id']} | {r['measurement']} | {r['result']} | {r['target']} | {met} |")
    return "\n".join(out) + "\n"


def fuse_readahead_kb(mnt: str) -> int | None:
    st = os.stat(mnt)
    path = f"/sys/class/bdi/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/read_ahead_kb"
    try:
        with open(path) as f:
            return int(f.read())
    except OSError:
        return None


def sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except Exception:
        return ""


def linked_libfuse(build: str) -> str:
    """The libfuse the benchmarked binary links: the system's (pkg-config) or the
    static 3.17 or 3.18 of scripts/build-libfuse (CMakeCache's CKPTFS_LIBFUSE_USED and
    CKPTFS_LIBFUSE_PREFIX)."""
    try:
        cache = open(os.path.join(build, "CMakeCache.txt"), encoding="utf-8").read()
    except OSError:
        cache = ""
    if "CKPTFS_LIBFUSE_USED:INTERNAL=bundled" in cache:
        m = re.search(r"^CKPTFS_LIBFUSE_PREFIX:PATH=(.*)$", cache, re.M)
        prefix = m.group(1) if m else os.path.join(REPO, "build-deps", "libfuse-3.17")
        stamp = os.path.join(prefix, ".complete")
        try:
            built = open(stamp, encoding="utf-8").read().strip()
        except OSError:
            built = "3.17"
        return f"{built} (Debian source, static, scripts/build-libfuse)"
    return sh("pkg-config --modversion fuse3") + " (system)"


def machine_info(bench: Bench) -> dict:
    mem = sh("awk '/MemTotal/ {print $2}' /proc/meminfo")
    cpu = sh("awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "scripts/bench " + " ".join(shlex.quote(a) for a in bench.args.argv),
        "mode": "quick" if bench.args.quick else "full",
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_bytes": int(mem) * KiB if mem.isdigit() else None,
        "kernel": platform.release(),
        "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
        "libfuse": linked_libfuse(bench.build),
        "fuse3_package": sh("dpkg-query -W -f='${Version}' fuse3 2>/dev/null"),
        "pipe_max_size": int(sh("cat /proc/sys/fs/pipe-max-size") or 0),
        "work_fs": sh(f"findmnt -n -o FSTYPE -T {shlex.quote(bench.work)}"),
        "python": platform.python_version(),
        "git": sh(f"git -C {shlex.quote(REPO)} describe --always --dirty"),
        "build": bench.build,
        # other work on the machine skews every number: recorded, not prevented
        "loadavg_start": os.getloadavg(),
    }


def make_plots(res: dict, out: str) -> list:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = []
    dpi = 90

    def save(fig, name, title):
        path = os.path.join(out, name)
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        plots.append((name, title))

    def err(s):  # (lower, upper) error bar lengths around the median
        return [[s["median"] - s["min"]], [s["max"] - s["median"]]]

    if "P1" in res:
        p1 = res["P1"]
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
        xs = [s["tensors"] for s in p1["series"]]
        ys = [s["total_s"]["median"] for s in p1["series"]]
        lo = [s["total_s"]["median"] - s["total_s"]["min"] for s in p1["series"]]
        hi = [s["total_s"]["max"] - s["total_s"]["median"] for s in p1["series"]]
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3,
                    label="2 sources, 1 KiB/tensor")
        size = p1["size"]
        for sz, s, mk in zip(size["sizes"], size["total_s"], ("s", "^")):
            ax.errorbar([size["tensors"]], [s["median"]], yerr=err(s), marker=mk,
                        linestyle="none", capsize=3, label=f"{fmt_bytes(sz)} total")
        ax.axhline(TARGETS["P1_100k_s"], color="red", linestyle=":", linewidth=1)
        ax.plot([100_000], [TARGETS["P1_100k_s"]], "rx", label="target @100k")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tensors in the merged checkpoint")
        ax.set_ylabel("mount + first stat (s)")
        ax.set_title("P1: time to a usable mount")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        save(fig, "p1_mount.png", "P1: mount time vs tensors")

    if "P2" in res or "P3" in res:
        p2 = res.get("P2") or {}
        p3 = res.get("P3") or {}
        labels, vals, errs, colors = [], [], [], []
        nat = (p2 or p3)["native_gbps"]
        labels.append("native"), vals.append(nat["median"]), errs.append(err(nat)), colors.append("gray")
        for l in p2.get("fresh_gbps", {}):
            if "fresh_gbps" in p2:
                s = p2["fresh_gbps"][l]
                labels.append(f"fresh\n{SHORT.get(l, l)}"), vals.append(s["median"]), errs.append(err(s))
                colors.append("tab:blue")
        for l in p3.get("repeat_gbps", {}):
            if "repeat_gbps" in p3:
                s = p3["repeat_gbps"][l]
                labels.append(f"repeat\n{SHORT.get(l, l)}"), vals.append(s["median"]), errs.append(err(s))
                colors.append("tab:green")
        fig, ax = plt.subplots(figsize=(9.0, 3.6))
        x = range(len(vals))
        ax.bar(x, vals, color=colors,
               yerr=[[e[0][0] for e in errs], [e[1][0] for e in errs]], capsize=3)
        for step, color in (("P2", "tab:blue"), ("P3", "tab:green")):
            for kind, style in (("one shard", "--"), ("daemon", ":")):
                t = TARGETS[f"{step}_ratio"][kind]
                ax.axhline(t * nat["median"], color=color, linestyle=style, linewidth=1,
                           label=f"{step} target, {kind}: {t}× native")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel("GB/s (1 MiB reads)")
        ax.set_title(f"P2/P3: sequential read, {fmt_bytes((p2 or p3)['bytes'])}, page cache hot")
        ax.legend(fontsize=7)
        save(fig, "p2_p3_read.png", "P2/P3: sequential read throughput")

    if "P4" in res or "P5" in res:
        n = ("P4" in res) + ("P5" in res)
        fig, axes = plt.subplots(1, n, figsize=(5.2 if n == 1 else 7.5, 3.4), squeeze=False)
        axes = list(axes[0])
        if "P4" in res:
            p4 = res["P4"]
            ax = axes.pop(0)
            items = [("materialized", p4["materialized_restore_s"], "gray")] + \
                [(f"mount\n{l}", p4["mount_restore_s"][l], "tab:blue") for l in VARIANTS]
            ax.bar(range(len(items)), [s["median"] for _l, s, _c in items],
                   yerr=[[e[0][0] for e in (err(s) for _l, s, _c in items)],
                         [e[1][0] for e in (err(s) for _l, s, _c in items)]],
                   color=[c for *_r, c in items], capsize=3)
            for kind, style in (("one shard", "--"), ("daemon", ":")):
                t = TARGETS["P4_ratio"][kind]
                ax.axhline(t * p4["materialized_restore_s"]["median"], color="red", linestyle=style,
                           linewidth=1, label=f"target, {kind}: {t}×")
            ax.set_xticks(range(len(items)))
            ax.set_xticklabels([l for l, *_r in items], fontsize=8)
            ax.set_ylabel("seconds")
            ax.set_title(f"P4: TF restore, {fmt_bytes(p4['bytes'])}", fontsize=10)
            ax.legend(fontsize=7)
        if "P5" in res:
            p5 = res["P5"]
            ax = axes.pop(0)
            b, c = p5["baseline"], p5["ckptfs"]
            ax.bar([0], [b["merge_s"]["median"]], color="tab:orange", label="TF merge + save")
            ax.bar([0], [b["restore_s"]["median"]], bottom=[b["merge_s"]["median"]],
                   color="gray", label="restore")
            ax.bar([1], [c["mount_s"]["median"]], color="tab:blue", label="mount")
            ax.bar([1], [c["restore_s"]["median"]], bottom=[c["mount_s"]["median"]],
                   color="gray")
            ax.set_xticks([0, 1])
            ax.set_xticklabels(["TF script", "ckptfs"], fontsize=8)
            ax.set_ylabel("seconds to a restored model")
            ax.set_title(f"P5: {fmt_bytes(p5['bytes'])}, {p5['speedup']['median']:.1f}× faster",
                         fontsize=10)
            ax.legend(fontsize=7)
        save(fig, "p4_p5_tf.png", "P4/P5: TensorFlow restore and time to a merged model")

    if "P6" in res:
        p6 = res["P6"]["series"]
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
        xs = [s["tensors"] for s in p6]
        ax.plot(xs, [s["ready_rss"]["median"] / MiB for s in p6], "o-", label="VmRSS, mounted")
        ax.plot(xs, [s["read_rss"]["median"] / MiB for s in p6], "s-", label="VmRSS, after read")
        ax.plot(xs, [s["read_hwm"]["median"] / MiB for s in p6], "^-", label="VmHWM")
        ax.plot(xs, [s["target_bytes"] / MiB for s in p6], "r:", label="target")
        ax.plot(xs, [s["index_bytes"] / MiB for s in p6], "k--", linewidth=0.8,
                label=".index size")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tensors in the merged checkpoint")
        ax.set_ylabel("MiB")
        ax.set_title("P6: daemon memory")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        save(fig, "p6_memory.png", "P6: daemon memory vs tensors")

    if "P8" in res and "base_s" in res["P8"]:
        p8 = res["P8"]
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        med = {k: v["median"] for k, v in p8.items() if isinstance(v, dict) and "median" in v}
        bars = [("download\n+ restore", [("download (curl)", med["dl_s"], "tab:orange"),
                                          ("restore", med["local_s"], "gray")]),
                ("mount\n+ restore\n(cold)", [("mount", med["mount_s"], "tab:blue"),
                                               ("restore", med["restore_s"], "gray")])]
        if "plugin_s" in med:
            bars.append(("plugin\n(cold)", [("restore", med["plugin_s"], "gray")]))
        bars += [("local copy\nrestore", [("restore", med["local_s"], "gray")]),
                 ("remount\n+ restore\n(warm)", [("mount", med["remount_s"], "tab:blue"),
                                                  ("restore", med["warm_s"], "gray")])]
        seen = set()
        for i, (_label, parts) in enumerate(bars):
            bottom = 0.0
            for name, v, color in parts:
                ax.bar([i], [v], bottom=[bottom], color=color,
                       label=None if name in seen else name)
                seen.add(name)
                bottom += v
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels([b[0] for b in bars], fontsize=8)
        ax.set_ylabel("seconds")
        title = f"P8: remote sources (nginx, loopback), {fmt_bytes(p8['bytes'])}"
        if "half" in p8:
            title += f"; half merge moves {p8['half']['ratio']['median']:.2f}× its bytes"
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        save(fig, "p8_remote.png", "P8: restore from remote sources")
    return plots


def readme_section(res: dict, table: str, plots: list, out: str) -> str:
    m = res["meta"]
    rel = os.path.relpath(out, REPO)
    ram = f"{m['ram_bytes'] / GiB:.0f} GiB" if m.get("ram_bytes") else "?"
    lines = [
        "## Benchmarks",
        "",
        f"Measured with `{m['command']}` ({m['mode']} run, {m['seconds'] / 60:.1f} min, "
        f"{m['date'][:10]}, commit `{m['git']}`) on: {m['nproc']} cores ({m['cpu']}), "
        f"{ram} RAM, {m['os']}, kernel {m['kernel']}, libfuse {m['libfuse']} "
        f"(system fuse3 package {m['fuse3_package']}), `fs.pipe-max-size` = {m['pipe_max_size']}, "
        f"inputs on {m['work_fs']}, TensorFlow {m.get('tensorflow', 'n/a')}. "
        "A VM of this size is noisy (±30 % run to run): compare the ratios, which are "
        "taken between measurements of the same repetition. " + other_load_text(m),
        "",
        "Inputs are written by `tests/tools/bench_gen.c` (the project's bundle writer): two "
        "sources `a` and `b` merged by `map a:/ -> /` + `map b:/ -> /`; many-tensor and "
        "TiB-sized sources are sparse (holes with correct CRCs). Reads use 1 MiB `read(2)` "
        "calls with the page cache hot (sources read first, nothing dropped); \"fresh mount\" "
        "means unmounted and remounted before the read. TensorFlow restores are TF1 "
        "`Saver.restore` in a process that has already imported TensorFlow; P5's merge script "
        "runs in that process too, so TensorFlow's import "
        f"(~{res['meta'].get('tf_import_seconds', 0):.1f} s) is left out of both sides. "
        "Targets are reported, not asserted.",
        "",
    ]
    if "P8" in res:
        lines += [
            "P8 serves the sources from servers started on 127.0.0.1: Debian's nginx "
            "(one process) over plain http for every data row, and s3s-fs (SigV4) for one "
            "mount row only, since it hashes the whole object on every request (~8 s per "
            "range GET of a 1 GiB object). The served files' page cache is hot; \"cold\" "
            "means an empty ckptfs cache directory (`-o cache_dir=`, or `CKPTFS_CACHE_DIR` "
            "for the plugin). Download-then-restore runs 8 `curl --range` processes per "
            "object at once; bytes moved are what nginx wrote (`/proc/PID/io` wchar: "
            "bodies, headers and its access-log lines). Loopback has no latency and no "
            "bandwidth limit: these rows weigh the CPU each side spends on this machine.",
            "",
        ]
    lines += [
        table,
    ]
    for name, title in plots:
        lines.append(f"![{title}]({rel}/{name})")
    lines.append("")
    if res.get("failures"):
        lines.append("Failed steps: " + ", ".join(f["step"] for f in res["failures"]))
        lines.append("")
    lines.append(f"Raw numbers (every sample): [`{rel}/results.json`]({rel}/results.json).")
    lines.append("")
    return "\n".join(lines)


def other_load_text(m: dict) -> str:
    o = m.get("other_load") or {}
    text = (f"Load average at start / end: {m['loadavg_start'][0]:.2f} / "
            f"{m['loadavg_end'][0]:.2f}")
    if o:
        text += (f"; other processes used {o['foreign_cpu_seconds']:.0f} CPU-seconds during the "
                 f"run ({100 * o['foreign_share_of_all_cores']:.0f} % of all cores)")
        if o["foreign_top"] and o["foreign_cpu_seconds"] >= 1:
            text += ": " + ", ".join(f"{c} {v:.0f} s" for c, v in o["foreign_top"][:3])
    return text + "."


def keep_variants(ap, names: list[str]):
    """--variants: P2-P4 measure only these data paths."""
    global REPEAT_RESTORE
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"--variants: no data path {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    for n in list(VARIANTS):
        if n not in names:
            del VARIANTS[n]
    REPEAT_RESTORE = tuple(n for n in REPEAT_RESTORE if n in VARIANTS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (CI)")
    ap.add_argument("--out", help="results dir (default <build>/bench)")
    ap.add_argument("--work", help="inputs and mountpoint (default <build>/bench-work[-quick])")
    ap.add_argument("--keep-work", action="store_true",
                    help="keep (and reuse) the generated inputs")
    ap.add_argument("--only", help="comma-separated subset of P1..P8")
    ap.add_argument("--reps", type=int, help="repetitions of every measurement")
    ap.add_argument("--variants", help="comma-separated subset of the data paths P2-P4 "
                    f"compare ({', '.join(VARIANTS)})")
    args = ap.parse_args(argv)
    if args.variants:
        keep_variants(ap, args.variants.split(","))
    # the user's command line, for the report (without the wrapper's --build)
    raw = list(sys.argv[1:] if argv is None else argv)
    if "--build" in raw:
        i = raw.index("--build")
        del raw[i:i + 2]
    args.argv = raw

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    bench = Bench(args)
    try:
        return bench.run()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        cleanup_all_mounts()
        if not mounting.is_mounted(bench.mnt):
            shutil.rmtree(bench.mnt_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
