"""Hostile sources, second round: what someone who may write a source directory, or who
hands ckptfs a strange file, can do to it.

* allow_other: a mount every user reads opens only source files every user could read
  directly. A data shard or index replaced by a symlink to a private file, or a
  `checkpoint` state file naming root's private checkpoint, is refused (exit 1, nothing
  mounted) with a message naming the file, where it really is and the fix; without
  allow_other the same mapping mounts, for root alone. A normal allow_other mount of
  world-readable sources stays readable by user nobody.
* hangs: a FIFO as `checkpoint` state file or as the mapping file is refused at once.
* memory bombs: an index declaring 2^31 - 1 shards, a sparse multi-GiB index (read block
  by block, as TensorFlow does, which the oracle confirms), a block handle beyond the
  file, a huge or endless `checkpoint` state file: each costs little memory (measured).
* clear errors: permission denied and symlink loops are reported as such, not as "does
  not exist" (as user nobody, since root bypasses permissions).

The tests run as root (as the whole suite); "nobody" runs are subprocesses that drop
privileges in preexec_fn. Everything they reach lives in a 0755 directory under /tmp,
since pytest's own tmp dirs are 0700.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys

import pytest

from pylib import ckptfmt, mounting
from pylib.ckptfmt import DT_FLOAT, DT_INT64, Tensor, varint, write_bundle
from pylib.ckptfmt import encode_header as header_proto
from pylib.mapfile import write_mapping
from pylib.mounting import mount_attempt, run_cmd

NOBODY = 65534
MIB = 1 << 20
MEMORY_BOUND_KIB = 200 * 1024   # what any of these inputs may cost, peak RSS


def drop_to_nobody():
    """preexec_fn: become uid/gid nobody with no supplementary groups."""
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def run_as_nobody(argv: list, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=drop_to_nobody, cwd="/")


# Runs argv[1:] with an address-space cap (argv[1], bytes; 0: none) and prints the
# child's peak RSS (KiB) last on stdout. A launcher, because a child forked from this
# process (which may hold TensorFlow) would be charged for our memory; the cap keeps a
# regression from taking the shared machine's memory with it.
_MEASURE = """
import os, resource, sys
pid = os.fork()
if pid == 0:
    cap = int(sys.argv[1])
    if cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(argv: list, timeout: float = 120) -> tuple[int, str, str, int]:
    """(exit status, stdout, stderr, peak RSS in KiB) of one command, under a 4 GiB
    address-space cap (none in a sanitizer build: ASan reserves terabytes)."""
    cap = 0 if os.environ.get("CKPTFS_SANITIZED") else 4 << 30
    r = subprocess.run([sys.executable, "-c", _MEASURE, str(cap), *map(str, argv)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    out = r.stdout.decode(errors="replace").rstrip("\n").split("\n")
    return r.returncode, "\n".join(out[:-1]), r.stderr.decode(errors="replace"), int(out[-1])


def public_dir(*parts: str) -> str:
    d = os.path.join(*parts)
    os.makedirs(d)
    os.chmod(d, 0o755)
    return d


def tensors() -> list[Tensor]:
    return [Tensor("w", DT_FLOAT, [4], struct.pack("<4f", 1.5, -2.0, 3.25, 0.0)),
            Tensor("step", DT_INT64, [], struct.pack("<q", 1234))]


def write_public_bundle(prefix: str, ts=None, **kw):
    table = write_bundle(prefix, ts if ts is not None else tensors(), **kw)
    for f in ckptfmt.bundle_files(prefix):
        os.chmod(f, 0o644)
    return table


def whole_source_mapping(path: str, source: str, *lines: str) -> str:
    """A mapping every user may read of the whole of one source, s."""
    return write_mapping(path, {"s": source}, ["map s:/ -> /", *lines], mode=0o644)


def assert_refused(r, *fragments: str):
    """r, a mount_attempt, failed with status 1 and mounted nothing."""
    assert not r.hung, r.describe()
    assert r.rc == 1, r.describe()
    assert not r.mounted, f"mounted despite the error\n{r.describe()}"
    missing = [f for f in fragments if f not in r.stderr]
    assert not missing, f"message lacks {missing}\n{r.describe()}"


# ---------------------------------------------------------------------------------------
# allow_other: only what every user could read

SECRET = b"only root may read this: " + bytes(range(256)) * 4


def private_file(pub: str, content: bytes, file_mode: int, dir_mode: int) -> str:
    d = os.path.join(pub, "private")
    os.makedirs(d, exist_ok=True)
    f = os.path.join(d, "secret")
    with open(f, "wb") as fh:
        fh.write(content)
    os.chmod(f, file_mode)
    os.chmod(d, dir_mode)
    return f


# (file mode, directory mode, message fragment template, fix template)
PRIVATE = {
    "file-0600": (0o600, 0o755, "is not readable by every user (mode 0600)",
                  "chmod o+r '{secret}'"),
    "dir-0700": (0o644, 0o700, "is in '{dir}', which not every user may enter (mode 0700)",
                 "chmod o+x '{dir}'"),
}


@pytest.mark.parametrize("private", sorted(PRIVATE))
@pytest.mark.parametrize("what", ["data shard", "index"])
def test_allow_other_refuses_a_source_file_linked_to_a_private_file(pub, ckptfs_bin, what,
                                                                   private):
    """A source's data shard (or index) replaced by a symlink to a file other users may
    not read: with allow_other every user would read its bytes through the mount (with
    layout = shards a 0-byte tensor exposes the whole shard). Refused; without
    allow_other the same mapping mounts, and only root reads it."""
    file_mode, dir_mode, why, fix = PRIVATE[private]
    prefix = os.path.join(public_dir(pub, "src"), "model")
    write_public_bundle(prefix, [Tensor("empty", DT_FLOAT, [0], b"")])
    victim = (ckptfmt.data_filename(prefix, 0, 1) if what == "data shard"
              else prefix + ".index")
    with open(victim, "rb") as f:
        content = f.read() if what == "index" else SECRET
    secret = private_file(pub, content, file_mode, dir_mode)
    os.unlink(victim)
    os.symlink(secret, victim)
    mapping = whole_source_mapping(os.path.join(pub, "m.conf"), prefix, "layout = shards")
    mnt = os.path.join(pub, "mnt")

    r = mount_attempt(ckptfs_bin, mapping, mnt, "-o", "allow_other")
    fmt = dict(secret=secret, dir=os.path.dirname(secret))
    assert_refused(r, f"{mapping}:1:12: error: source 's': ",
                   f"'{victim}' (really '{secret}'): this {what} ", why.format(**fmt),
                   fix.format(**fmt), "or mount without allow_other")

    # `check` does not apply the rule, nor does a mount only root can read
    r = run_cmd([ckptfs_bin, "check", mapping])
    assert r.rc == 0, r.describe()
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        files = sorted(os.listdir(mnt))
        assert files == ["checkpoint", "model.ckpt.data-00000-of-00001",
                         "model.ckpt.index"], files
        if what == "data shard":
            with open(m.join("model.ckpt.data-00000-of-00001"), "rb") as f:
                assert f.read() == SECRET
        p = run_as_nobody(["/usr/bin/python3", "-c",
                           "import os, sys; os.stat(sys.argv[1])", m.join("model.ckpt.index")])
        assert p.returncode != 0 and "PermissionError" in p.stderr, p


def private_checkpoint(pub: str) -> str:
    """A checkpoint only root may read: files 0600 in a 0700 directory."""
    d = os.path.join(pub, "private")
    os.makedirs(d)
    prefix = os.path.join(d, "model")
    write_bundle(prefix, tensors())
    for f in ckptfmt.bundle_files(prefix):
        os.chmod(f, 0o600)
    os.chmod(d, 0o700)
    return prefix


def test_allow_other_refuses_a_state_file_naming_a_private_checkpoint(pub, ckptfs_bin):
    """A directory source whose `checkpoint` state file (world-readable, written by
    whoever may write the directory) names root's private checkpoint."""
    private = private_checkpoint(pub)
    src = public_dir(pub, "src")
    with open(os.path.join(src, "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "{private}"\n')
    os.chmod(os.path.join(src, "checkpoint"), 0o644)
    mapping = whole_source_mapping(os.path.join(pub, "m.conf"), src)
    mnt = os.path.join(pub, "mnt")
    r = mount_attempt(ckptfs_bin, mapping, mnt, "-o", "allow_other")
    assert_refused(r, f"{mapping}:1:12: error: source 's': ",
                   f"'{private}.index': this index is not readable by every user "
                   "(mode 0600)", "or mount without allow_other")
    with mounting.mounted(ckptfs_bin, mapping, mnt) as m:
        with open(m.join("model.ckpt.data-00000-of-00001"), "rb") as f:
            assert f.read() == b"".join(t.data for t in tensors())


def test_allow_other_refuses_a_private_state_file(pub, ckptfs_bin):
    """The state file is one of the files read: one other users may not read is
    refused too, even though the checkpoint it names is public."""
    src = public_dir(pub, "src")
    write_public_bundle(os.path.join(src, "model"))
    state = os.path.join(src, "checkpoint")
    with open(state, "w") as f:
        f.write('model_checkpoint_path: "model"\n')
    os.chmod(state, 0o600)
    mapping = whole_source_mapping(os.path.join(pub, "m.conf"), src)
    r = mount_attempt(ckptfs_bin, mapping, os.path.join(pub, "mnt"),
                                   "-o", "allow_other")
    assert_refused(r, f"'{state}': this 'checkpoint' state file is not "
                   "readable by every user (mode 0600)", f"chmod o+r '{state}'")
    os.chmod(state, 0o644)
    r = mount_attempt(ckptfs_bin, mapping, os.path.join(pub, "mnt"),
                                   "-o", "allow_other")
    assert r.rc == 0 and r.mounted, r.describe()


READ_ALL = r"""
import hashlib, json, os, sys
out = {}
for n in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], n), "rb") as f:
        out[n] = hashlib.sha256(f.read()).hexdigest()
print(json.dumps(out))
"""


@pytest.mark.parametrize("layout", ["single", "shards"])
def test_allow_other_mount_of_public_sources_is_read_by_nobody(pub, ckptfs_bin, layout):
    """The rule lets the normal case through: world-readable sources (a prefix, and a
    directory with its state file) mount with allow_other, and user nobody reads every
    file, with the bytes root reads."""
    a = os.path.join(public_dir(pub, "src", "a"), "model")
    write_public_bundle(a)
    b = public_dir(pub, "src", "b")
    write_public_bundle(os.path.join(b, "ckpt-7"),
                        [Tensor("bias", DT_FLOAT, [2], struct.pack("<2f", 0.5, 4.0))])
    with open(os.path.join(b, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "ckpt-7"\nall_model_checkpoint_paths: "ckpt-7"\n')
    os.chmod(os.path.join(b, "checkpoint"), 0o644)
    mapping = os.path.join(pub, "m.conf")
    with open(mapping, "w") as f:
        f.write(f"source a = {a}\nsource b = {b}\nmap a:/ -> a/\nmap b:/ -> b/\n"
                f"layout = {layout}\n")
    mnt = os.path.join(pub, "mnt")
    with mounting.mounted(ckptfs_bin, mapping, mnt, "-o", "allow_other") as m:
        want = {}
        for n in sorted(os.listdir(mnt)):
            with open(m.join(n), "rb") as f:
                want[n] = hashlib.sha256(f.read()).hexdigest()
        p = run_as_nobody(["/usr/bin/python3", "-c", READ_ALL, mnt])
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == want
        if layout == "shards":  # each data file is its source shard, byte for byte
            shards = sorted(ckptfmt.data_filename(x, 0, 1)
                            for x in (a, os.path.join(b, "ckpt-7")))
            got = sorted(v for k, v in want.items() if ".data-" in k)
            assert got == sorted(hashlib.sha256(open(s, "rb").read()).hexdigest()
                                 for s in shards)


# ---------------------------------------------------------------------------------------
# FIFOs and devices: refused at once, never waited on

def test_fifo_state_file_is_refused_without_hanging(tmp_path, ckptfs_bin):
    src = tmp_path / "src"
    src.mkdir()
    write_bundle(str(src / "model"), tensors())
    os.mkfifo(src / "checkpoint")
    mapping = whole_source_mapping(str(tmp_path / "m.conf"), str(src))
    want = f"'{src}/checkpoint': cannot open 'checkpoint' state file: not a regular file (a FIFO)"
    for argv in (["ls", src], ["check", mapping], ["ls", mapping]):
        r = run_cmd([ckptfs_bin, *argv], timeout=10)
        assert not r.hung and r.rc == 1 and want in r.stderr, r.describe()
    r = mount_attempt(ckptfs_bin, mapping, str(tmp_path / "mnt"))
    assert_refused(r, f"{mapping}:1:12: error: source 's': {want}")


def test_state_file_that_is_a_device_is_refused(tmp_path, ckptfs_bin):
    """`checkpoint` -> /dev/zero: once an endless read into memory."""
    src = tmp_path / "src"
    src.mkdir()
    write_bundle(str(src / "model"), tensors())
    os.symlink("/dev/zero", src / "checkpoint")
    rc, _out, err, rss = run_measured([ckptfs_bin, "ls", src], timeout=20)
    assert rc == 1 and (f"'{src}/checkpoint': cannot open 'checkpoint' state file: not a "
                        "regular file (a character device)") in err, err
    assert rss < MEMORY_BOUND_KIB, f"peak RSS {rss // 1024} MiB"


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_mapping_file_that_is_not_a_regular_file(tmp_path, ckptfs_bin, kind):
    if kind == "fifo":
        mapping = str(tmp_path / "m.conf")
        os.mkfifo(mapping)
        want = f"{mapping}: error: cannot read: not a regular file (a FIFO)"
    else:
        mapping = "/dev/zero"
        want = f"{mapping}: error: cannot read: not a regular file (a character device)"
    r = run_cmd([ckptfs_bin, "check", mapping], timeout=10)
    assert not r.hung and r.rc == 1 and want in r.stderr, r.describe()
    r = mount_attempt(ckptfs_bin, mapping, str(tmp_path / "mnt"))
    assert_refused(r, want)
    # `ls` takes it for a checkpoint (it is not a regular file): refused, not waited on
    r = run_cmd([ckptfs_bin, "ls", mapping], timeout=10)
    assert not r.hung and r.rc == 1, r.describe()


# ---------------------------------------------------------------------------------------
# memory bombs

def test_index_declaring_two_billion_shards(tmp_path, ckptfs_bin):
    """A ~130-byte index with num_shards = 2^31 - 1 fails at the first missing shard,
    without a slot per declared shard (once 8 GiB and 14 s)."""
    n = 2**31 - 1
    prefix = str(tmp_path / "model")
    write_bundle(prefix, tensors(), header=header_proto(num_shards=n))
    os.rename(ckptfmt.data_filename(prefix, 0, 1), f"{prefix}.data-00000-of-{n:05d}")
    mapping = whole_source_mapping(str(tmp_path / "m.conf"), prefix)
    want = f"'{prefix}.data-00001-of-{n:05d}': cannot open data shard: No such file or directory"
    for argv in (["ls", prefix], ["check", mapping]):
        rc, _out, err, rss = run_measured([ckptfs_bin, *argv])
        assert rc == 1 and want in err, (argv, rc, err)
        assert rss < MEMORY_BOUND_KIB, f"{argv}: peak RSS {rss // 1024} MiB"


def sparse_index(prefix: str, gap: int) -> None:
    """Rewrite PREFIX.index with a hole of gap bytes between its last block and its
    footer: still a valid table (readers go by the footer's handles)."""
    table = write_public_bundle(prefix)
    with open(prefix + ".index", "wb") as f:
        f.write(table.data[:table.footer])
        f.seek(table.footer + gap)
        f.write(table.data[table.footer:])


def test_sparse_index_is_read_block_by_block(tmp_path, ckptfs_bin):
    """A 6 GiB (sparse) index whose footer points at small blocks: ckptfs, like
    TensorFlow, reads the footer and the blocks, not the file (once 6 GiB of RAM)."""
    import tensorflow as tf

    prefix = str(tmp_path / "model")
    sparse_index(prefix, 6 << 30)
    assert os.path.getsize(prefix + ".index") > 6 << 30
    reader = tf.train.load_checkpoint(prefix)  # the oracle: a valid checkpoint
    want = {t.key: reader.get_tensor(t.key) for t in tensors()}
    rc, out, err, rss = run_measured([ckptfs_bin, "ls", prefix])
    assert rc == 0, err
    assert sorted(ln.split("\t")[0] for ln in out.splitlines()) == sorted(want)
    assert rss < MEMORY_BOUND_KIB, f"ls: peak RSS {rss // 1024} MiB"
    rc, _out, err, rss = run_measured([ckptfs_bin, "verify", prefix])
    assert rc == 0, err
    assert rss < MEMORY_BOUND_KIB, f"verify: peak RSS {rss // 1024} MiB"
    cat = subprocess.run([ckptfs_bin, "cat", prefix, "w"], capture_output=True, timeout=60)
    assert cat.returncode == 0 and cat.stdout == want["w"].tobytes(), cat


def test_block_handle_beyond_the_file_is_refused(tmp_path, ckptfs_bin):
    """A footer whose index handle claims 1 TiB: refused by its size, nothing allocated."""
    prefix = str(tmp_path / "model")
    table = write_public_bundle(prefix)
    handles = (varint(table.meta[0]) + varint(table.meta[1]) + varint(table.index[0])
               + varint(1 << 40))
    data = table.data[:table.footer] + handles + bytes(40 - len(handles)) + \
        table.data[-8:]
    with open(prefix + ".index", "wb") as f:
        f.write(data)
    rc, _out, err, rss = run_measured([ckptfs_bin, "ls", prefix])
    assert rc == 1 and f"'{prefix}.index': bad block handle for index block (offset " \
        f"{table.index[0]}, size {1 << 40}, blocks end at {table.footer})" in err, err
    assert rss < MEMORY_BOUND_KIB


def test_huge_state_file_is_refused(tmp_path, ckptfs_bin):
    """A 3 GiB (sparse) `checkpoint` state file: TensorFlow's are a few lines."""
    src = tmp_path / "src"
    src.mkdir()
    write_bundle(str(src / "model"), tensors())
    with open(src / "checkpoint", "wb") as f:
        f.write(b'model_checkpoint_path: "model"\n')
        f.truncate(3 << 30)
    mapping = whole_source_mapping(str(tmp_path / "m.conf"), str(src))
    want = (f"'{src}/checkpoint': 'checkpoint' state file is larger than 1 MiB: not a "
            "TensorFlow state file")
    for argv in (["ls", src], ["check", mapping]):
        rc, _out, err, rss = run_measured([ckptfs_bin, *argv])
        assert rc == 1 and want in err, (argv, rc, err)
        assert rss < MEMORY_BOUND_KIB, f"{argv}: peak RSS {rss // 1024} MiB"
    # a state file of just under the cap is read (and names the checkpoint)
    with open(src / "checkpoint", "wb") as f:
        f.write(b'model_checkpoint_path: "model"\n' + b"# padding\n" * ((MIB - 64) // 10))
    r = run_cmd([ckptfs_bin, "ls", src])
    assert r.rc == 0 and "step\tint64" in r.stdout, r.describe()


# ---------------------------------------------------------------------------------------
# errors that say what happened

def test_symlink_loops_are_named(tmp_path, ckptfs_bin):
    loop = str(tmp_path / "loop")
    os.symlink("loop", loop)
    prefix = str(tmp_path / "model")
    os.symlink("model.index", prefix + ".index")
    eloop = "Too many levels of symbolic links"
    cases = {
        loop: f"'{loop}': cannot access: {eloop}",
        prefix: f"'{prefix}': cannot access '{prefix}.index': {eloop}",
    }
    for path, want in cases.items():
        r = run_cmd([ckptfs_bin, "ls", path])
        assert r.rc == 1 and want in r.stderr and "does not exist" not in r.stderr, \
            r.describe()
        mapping = whole_source_mapping(str(tmp_path / "m.conf"), path)
        r = run_cmd([ckptfs_bin, "check", mapping])
        assert r.rc == 1 and f"{mapping}:1:12: error: source 's': {want}" in r.stderr, \
            r.describe()


def test_permission_denied_is_named(pub, ckptfs_bin):
    """As user nobody: a checkpoint in a directory nobody may enter, and a directory
    source whose state file nobody may read."""
    exe = os.path.join(pub, "ckptfs")  # wherever the build is, nobody may run this
    shutil.copy2(ckptfs_bin, exe)
    os.chmod(exe, 0o755)
    closed = os.path.join(pub, "closed")
    os.makedirs(closed)
    write_public_bundle(os.path.join(closed, "model"))
    os.chmod(closed, 0o700)
    src = public_dir(pub, "src")
    write_public_bundle(os.path.join(src, "model"))
    with open(os.path.join(src, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "model"\n')
    os.chmod(os.path.join(src, "checkpoint"), 0o600)
    denied = "Permission denied"
    cases = {
        os.path.join(closed, "model"):
            f"'{closed}/model': cannot access '{closed}/model.index': {denied}",
        src: f"'{src}/checkpoint': cannot open 'checkpoint' state file: {denied}",
    }
    for path, want in cases.items():
        r = run_cmd([exe, "ls", path])  # root may: the control
        assert r.rc == 0, r.describe()
        p = run_as_nobody([exe, "ls", path])
        assert p.returncode == 1 and want in p.stderr and "does not exist" not in p.stderr, \
            (path, p.stderr)
        mapping = whole_source_mapping(os.path.join(pub, "m.conf"), path)
        p = run_as_nobody([exe, "check", mapping])
        assert p.returncode == 1 and f"{mapping}:1:12: error: source 's': {want}" in \
            p.stderr, p.stderr
