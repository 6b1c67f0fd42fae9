"""Hostile input to the command and the mount, second round: what ckptfs prints, writes
and mounts when names, paths and options are made to hurt.

Sections:
* output that trusts its input: tensor names with terminal escapes, newlines, tabs and
  backslashes are shown escaped by ``ls`` (of a checkpoint and of a mapping), ``check``,
  ``cat`` and every message that quotes them, while ordinary names stay byte-identical;
  a file that is not a mapping is quoted by a short excerpt only;
* data loss: ``materialize`` whose output would be a file of a source, however the output
  prefix is spelled (``src/../src/model``, a symlinked directory, hard links), is refused
  in copy and --link mode, with and without --force, and the source bytes stay the same;
* the mount race: two mounts started together on one mountpoint never both succeed;
* wrong values and checks that disagree: -o readahead= and -o max_read= never wrap; a
  prefix too long for its file names, with glob characters, or not UTF-8 is refused
  the same by ``check``, ``ls``, ``materialize`` and the mount;
* a mountpoint that holds files is refused unless -o nonempty;
* what `exclude` hides (docs/mapping.md): its bytes are not read from
  the data files of a mount, and materialize leaves them out.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time

import numpy as np
import pytest

from pylib import mounting as mountlib
from pylib.ckptfmt import DT_FLOAT, DT_UINT8, Tensor, write_bundle
from pylib.mounting import assert_not_mounted, exec_prefix, force_unmount_all, mounts_at
from pylib.mountio import splice_max_read
from pylib.sources import CORPUS_SOURCES, sources_mapping


def run_daemon(ckptfs_bin: str, *args: str):
    """The mount form, waited for (not a daemon it leaves): pylib's run_cmd, which
    captures through files, so a daemon in the background cannot hold a pipe."""
    r = mountlib.run_cmd([ckptfs_bin, *args], timeout=60)
    assert not r.hung, r.describe()
    return subprocess.CompletedProcess(r.argv, r.rc, r.stdout, r.stderr)

@pytest.fixture
def corpus_mapping(tmp_path, sources) -> str:
    """The four corpus checkpoints (a private copy) merged under a/ b/ c/ d/."""
    return sources_mapping(tmp_path / "merge.conf", sources, CORPUS_SOURCES)


# ---------------------------------------------------------------------------------------
# how names are shown: an independent model of util_escape

def shown(raw: bytes, backslash: bool = True) -> bytes:
    """Control characters (C0, DEL, C1) as \\n \\t \\r or \\xNN, bytes that are not UTF-8
    as \\xNN, and (for names) a backslash as \\\\; everything else as it is."""
    out, i = bytearray(), 0
    while i < len(raw):
        for k in (1, 2, 3, 4):
            try:
                ch = raw[i:i + k].decode("utf-8")
                break
            except UnicodeDecodeError:
                ch = None
        if ch is None:
            out += b"\\x%02x" % raw[i]
            i += 1
            continue
        cp = ord(ch)
        if ch == "\\" and backslash:
            out += b"\\\\"
        elif ch in "\n\t\r":
            out += {"\n": b"\\n", "\t": b"\\t", "\r": b"\\r"}[ch]
        elif cp < 0x20 or cp == 0x7f:
            out += b"\\x%02x" % cp
        elif 0x80 <= cp < 0xa0:
            out += b"".join(b"\\x%02x" % b for b in ch.encode())
        else:
            out += ch.encode()
        i += k
    return bytes(out)


def assert_terminal_safe(text, what: str):
    """No control character but the line ends (and the tabs between `ls` columns)."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    bad = sorted({b for b in data if (b < 0x20 and b not in (0x0a, 0x09)) or b == 0x7f})
    assert not bad, f"{what} holds control bytes {bad}:\n{data[:3000]!r}"
    assert b"\xc2\x9b" not in data and b"\xc2\x85" not in data, f"{what} holds C1 controls"


# ---------------------------------------------------------------------------------------
# output that trusts its input

HOSTILE_NAMES = [
    "evil\x1b]0;pwned\x07",           # retitles an xterm
    "two\nforged/line\tfloat32\t[1]",  # a second `ls` line
    "tab\there",
    "back\\slash",
    "c1\u009b2J",                      # CSI as a C1 control (UTF-8 C2 9B)
    "\x1b[31mred",
]
ORDINARY_NAMES = ["dense/kernel", "Ünïcödé/名前", "a b/c-d.e:0"]


@pytest.fixture
def hostile(tmp_path) -> str:
    """A checkpoint whose tensor names attack a terminal; the prefix to open it."""
    rng = np.random.default_rng(3)
    tensors = [Tensor(n, DT_FLOAT, [4], rng.standard_normal(4).astype(np.float32).tobytes())
               for n in HOSTILE_NAMES + ORDINARY_NAMES]
    prefix = str(tmp_path / "hostile" / "model")
    os.makedirs(os.path.dirname(prefix))
    write_bundle(prefix, tensors)
    return prefix


def ls_names(out: bytes) -> list[bytes]:
    return [ln.split(b"\t")[0] for ln in out.split(b"\n") if ln]


def test_ls_checkpoint_escapes_names(run_ckptfs, hostile):
    r = run_ckptfs("ls", hostile)
    assert r.rc == 0, r.describe()
    assert_terminal_safe(r.stdout, "ls")
    names = HOSTILE_NAMES + ORDINARY_NAMES
    # one line per tensor: nothing forged
    assert len(r.stdout.splitlines()) == len(names), r.stdout
    assert all(len(ln.split(b"\t")) == 6 for ln in r.stdout.splitlines()), r.stdout
    want = sorted(shown(n.encode()) for n in names)
    assert sorted(ls_names(r.stdout)) == want
    for n in ORDINARY_NAMES:   # byte-identical where there is nothing to escape
        assert n.encode() in ls_names(r.stdout)


def test_ls_and_check_of_a_mapping_escape_names(run_ckptfs, hostile, tmp_path):
    conf = tmp_path / "m.conf"
    conf.write_text(f"source s = {hostile}\nmap s:/ -> s/\n")
    r = run_ckptfs("ls", conf)
    assert r.rc == 0, r.describe()
    assert_terminal_safe(r.stdout, "ls MAPPING")
    lines = r.stdout.splitlines()
    assert len(lines) == len(HOSTILE_NAMES + ORDINARY_NAMES), r.stdout
    rows = [ln.split(b"\t") for ln in lines]
    assert all(len(row) == 8 for row in rows), r.stdout
    assert sorted(row[0] for row in rows) == sorted(
        shown(b"s/" + n.encode()) for n in HOSTILE_NAMES + ORDINARY_NAMES)
    assert sorted(row[7] for row in rows) == sorted(
        shown(n.encode()) for n in HOSTILE_NAMES + ORDINARY_NAMES)
    r = run_ckptfs("check", conf)
    assert r.rc == 0, r.describe()
    assert_terminal_safe(r.stdout, "check")


def test_messages_quoting_names_escape_them(run_ckptfs, hostile, tmp_path):
    evil = HOSTILE_NAMES[0] + "\nforged: error: line"
    prefix = str(tmp_path / "evil" / "model")
    os.makedirs(os.path.dirname(prefix))
    write_bundle(prefix, [Tensor(evil, DT_UINT8, [2], b"ab")])
    cases = [
        # produced twice: the target names the tensor
        (f"source e = {prefix}\nmap e:/ -> /\nmap e:/ -> /\n", evil),
        # not found, with the hostile names as suggestions ("did you mean")
        (f"source s = {hostile}\nmap s:tab_here -> x\n", "tab\there"),
        (f"source s = {hostile}\nmap s:evil_]0;pwned_ -> x\n", HOSTILE_NAMES[0]),
        # a scope stripped to an empty name
        (f"source e = {prefix}\nmap e:{'evil'}/ -> /\n", None),
    ]
    for text, name in cases:
        conf = tmp_path / "m.conf"
        conf.write_text(text)
        r = run_ckptfs("check", conf)
        assert r.rc == 1, r.describe()
        assert_terminal_safe(r.stderr, "check's error")
        assert len(r.stderr.splitlines()) == 1, r.describe()
        if name:
            assert shown(name.encode()).decode() in r.stderr, r.describe()
    # a warning quoting a glob that holds a tab (written in quotes)
    conf = tmp_path / "m.conf"
    conf.write_text(f"source s = {hostile}\nmap s:/ -> /\nexclude \"s:no\tsuch\"\n")
    r = run_ckptfs("check", conf)
    assert r.rc == 0, r.describe()
    assert_terminal_safe(r.stderr, "check's warning")
    assert "exclude 's:no\\tsuch' matches no tensor" in r.stderr, r.describe()


def test_cat_and_verify_messages_escape_names(run_ckptfs, hostile, tmp_path):
    r = run_ckptfs("cat", hostile, "\x1b]0;pwned\x07")
    assert r.rc == 1, r.describe()
    assert_terminal_safe(r.stderr, "cat's error")
    assert "no tensor '\\x1b]0;pwned\\x07'" in r.stderr, r.describe()
    # a damaged tensor: the message comes from the checkpoint reader
    prefix = str(tmp_path / "bad" / "model")
    os.makedirs(os.path.dirname(prefix))
    evil = HOSTILE_NAMES[1]
    write_bundle(prefix, [Tensor(evil, DT_UINT8, [4], b"abcd")])
    data = prefix + ".data-00000-of-00001"
    with open(data, "r+b") as f:
        f.write(b"X")
    r = run_ckptfs("cat", prefix, evil)
    assert r.rc == 1 and "checksum mismatch" in r.stderr, r.describe()
    assert_terminal_safe(r.stderr, "cat's checksum error")
    assert len(r.stderr.splitlines()) == 1, r.describe()
    r = run_ckptfs("verify", prefix)
    assert r.rc == 1, r.describe()
    assert_terminal_safe(r.stderr, "verify's error")
    assert len(r.stderr.splitlines()) == 1, r.describe()


SECRET = "root:$6$Zs3cr3tSALTandHASHthatmustNOTbeechoed0123456789abcdef:19000:0:99999:7:::"


NOT_A_MAPPING = ("error: not a ckptfs mapping file (its lines start with source, map, "
                 "exclude, prefix, layout, format or checkpoint)")


@pytest.mark.parametrize("via", ["file", "symlink"])
def test_a_file_that_is_not_a_mapping_is_not_echoed(run_ckptfs, tmp_path, via):
    private = tmp_path / "shadow"
    private.write_text(SECRET + "\ndaemon:*:19000:0:99999:7:::\n")
    path = private
    if via == "symlink":
        path = tmp_path / "merge.conf"
        os.symlink(private, path)
    for cmd in (["check", path], ["ls", path], ["ls", "--objects", path]):
        r = run_ckptfs(*cmd)
        assert r.rc == 1, r.describe()
        assert r.stderr == f"{path}:1:1: {NOT_A_MAPPING}\n", r.describe()
    # a binary: not one byte of it, not even in hex
    binary = tmp_path / "blob"
    binary.write_bytes(b"\xc3\x28" + SECRET.encode() + b"\x00\x01")
    r = run_ckptfs("check", binary)
    assert r.rc == 1 and r.stderr == \
        f"{binary}:1: error: not a ckptfs mapping file (binary, or not UTF-8 text)\n", r.describe()
    # an unknown directive inside a mapping: 16 bytes at most
    conf = tmp_path / "m.conf"
    conf.write_text("source a = x\n" + SECRET + "\n")
    r = run_ckptfs("check", conf)
    assert r.rc == 1 and f"{conf}:2:1: error: unknown directive '{SECRET[:13]}...' (expected" \
        in r.stderr and SECRET[13:20] not in r.stderr, r.describe()
    # a word of a mapping line is quoted by 40 bytes
    conf.write_text("map a:b -> c " + "x" * 100 + "\n")
    r = run_ckptfs("check", conf)
    assert r.rc == 1 and "unexpected '" + "x" * 40 + "...' after 'c'" in r.stderr, \
        r.describe()


# ---------------------------------------------------------------------------------------
# data loss: materialize over a source

def digest_dir(root: str) -> dict[str, str]:
    """{relative path: sha256, or '-> target' for a symlink} of every entry below root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = "-> " + os.readlink(p)
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def make_source(root) -> str:
    """root/src/model: two tensors, and a `checkpoint` state file naming it."""
    src = root / "src"
    src.mkdir()
    write_bundle(str(src / "model"), [Tensor("w", DT_UINT8, [6], b"secret"),
                                      Tensor("b", DT_UINT8, [3], b"xyz")])
    (src / "checkpoint").write_text('model_checkpoint_path: "model"\n')
    return str(src / "model")


SPELLINGS = ["same", "dotdot", "dot", "symlinked_dir", "hard_links", "state_hard_link"]


BUNDLE = ("model.index", "model.data-00000-of-00001")


def spell_out(root, spelling: str) -> tuple[str, tuple]:
    """An OUT_PREFIX that names the source's files; and the source files it may hit."""
    src = str(root / "src")
    if spelling == "same":
        return f"{src}/model", BUNDLE
    if spelling == "dotdot":
        return f"{src}/../src/model", BUNDLE
    if spelling == "dot":
        return f"{root}/./src/./model", BUNDLE
    if spelling == "symlinked_dir":
        os.symlink(src, root / "alias")
        return f"{root}/alias/model", BUNDLE
    if spelling == "hard_links":
        (root / "hl").mkdir()
        for f in ("model.index", "model.data-00000-of-00001"):
            os.link(f"{src}/{f}", root / "hl" / f)
        return f"{root}/hl/model", BUNDLE
    if spelling == "state_hard_link":   # the state file a directory source is read through
        (root / "st").mkdir()
        os.link(f"{src}/checkpoint", root / "st" / "x.index")
        return f"{root}/st/x", ("checkpoint",)
    raise AssertionError(spelling)


# a prefix source reads no state file: that spelling is for a directory source only
@pytest.mark.parametrize("source,spelling",
                         [("prefix", s) for s in SPELLINGS if s != "state_hard_link"]
                         + [("directory", s) for s in SPELLINGS])
@pytest.mark.parametrize("mode", [[], ["--force"], ["--link"], ["--link", "--force"]],
                         ids=["copy", "copy-force", "link", "link-force"])
def test_materialize_never_overwrites_a_source(run_ckptfs, tmp_path, spelling, mode, source):
    prefix = make_source(tmp_path)
    conf = tmp_path / "m.conf"
    conf.write_text(f"source a = {prefix if source == 'prefix' else os.path.dirname(prefix)}\n"
                    "map a:/ -> /\n")
    out, hit = spell_out(tmp_path, spelling)
    before = digest_dir(str(tmp_path))
    r = run_ckptfs("materialize", *mode, conf, out)
    assert r.rc == 1, r.describe()
    assert "refusing to overwrite a source" in r.stderr, r.describe()
    # the message names both the output file and the source's file
    m = re.search(r"ckptfs: '([^']*)' is the same file as '([^']*)' of source 'a'", r.stderr)
    assert m, r.describe()
    assert m.group(1).startswith(out) and os.path.basename(m.group(2)) in hit, r.describe()
    assert digest_dir(str(tmp_path)) == before, "materialize changed files it refused to write"


def test_materialize_over_a_source_loses_nothing_at_the_bytes(run_ckptfs, tmp_path):
    """The case that lost data: --link --force onto the source's own prefix. Afterwards
    TensorFlow still reads the source's values."""
    prefix = make_source(tmp_path)
    conf = tmp_path / "m.conf"
    conf.write_text(f"source a = {prefix}\nmap a:/ -> /\n")
    r = run_ckptfs("materialize", "--link", "--force", conf, prefix)
    assert r.rc == 1, r.describe()
    assert not os.path.islink(prefix + ".data-00000-of-00001")
    import tensorflow as tf
    reader = tf.train.load_checkpoint(prefix)
    assert reader.get_tensor("w").tobytes() == b"secret"


@pytest.mark.parametrize("mode", [[], ["--link"]], ids=["copy", "link"])
def test_materialize_replaces_a_symlink_at_the_output_name(run_ckptfs, tmp_path, mode):
    """A symlink at OUT.index / OUT.data-* (what --link leaves) is itself replaced, never
    written through: allowed with --force, and the source it pointed at is untouched."""
    prefix = make_source(tmp_path)
    conf = tmp_path / "m.conf"
    conf.write_text(f"source a = {prefix}\nmap a:/ -> /\n")
    (tmp_path / "sl").mkdir()
    for f in ("model.index", "model.data-00000-of-00001"):
        os.symlink(f"{prefix}{f[len('model'):]}", tmp_path / "sl" / f)
    src_before = digest_dir(str(tmp_path / "src"))
    r = run_ckptfs("materialize", *mode, "--force", conf, tmp_path / "sl" / "model")
    assert r.rc == 0, r.describe()
    assert digest_dir(str(tmp_path / "src")) == src_before
    assert not os.path.islink(tmp_path / "sl" / "model.index")


# ---------------------------------------------------------------------------------------
# the mount race

def start_daemon(ckptfs_bin: str, mapping: str, mnt: str, log: str) -> subprocess.Popen:
    with open(log, "wb") as f:
        return subprocess.Popen(exec_prefix() + [ckptfs_bin, mapping, mnt, "-f"],
                                stdin=subprocess.DEVNULL, stdout=f, stderr=f)


def race_round(ckptfs_bin: str, mapping: str, mnt: str, logs: list[str]) -> str:
    """Start two daemons on mnt at once; '' if exactly one mounted and the other refused
    with the already-mounted message (exit 2), else what went wrong."""
    procs = [start_daemon(ckptfs_bin, mapping, mnt, log) for log in logs]
    try:
        deadline = time.monotonic() + mountlib.MOUNT_TIMEOUT
        while time.monotonic() < deadline:
            rcs = [p.poll() for p in procs]
            n = len(mounts_at(mnt))
            if n > 1:
                return f"{n} mounts stacked on {mnt}"
            if n == 1 and sorted(rc is None for rc in rcs) == [False, True]:
                loser = rcs.index(next(rc for rc in rcs if rc is not None))
                text = mountlib.read_log(logs[loser])
                if rcs[loser] != 2 or "is already mounted" not in text:
                    return f"the second daemon ended {rcs[loser]}:\n{text}"
                break
            if all(rc is not None for rc in rcs):
                return f"both daemons ended {rcs}: " + " | ".join(
                    mountlib.read_log(log) for log in logs)
            time.sleep(0.01)
        else:
            return f"no outcome after {mountlib.MOUNT_TIMEOUT}s"
        # the winner serves, and ends cleanly once unmounted
        winner = procs[rcs.index(None)]
        assert os.listdir(mnt) != [], "the mount serves nothing"
        r = mountlib.fusermount("-u", mnt)
        assert r.returncode == 0, r.stderr
        assert winner.wait(timeout=mountlib.EXIT_TIMEOUT) == 0
        return ""
    finally:
        force_unmount_all(mnt)
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)


def test_two_mounts_at_once_on_one_mountpoint(ckptfs_bin, corpus_mapping, tmp_path):
    """The already-mounted check is made again under a lock on the mountpoint, right
    before mounting: of two daemons started at the same instant exactly one mounts."""
    mnt = str(tmp_path / "mnt")
    os.makedirs(mnt)
    logs = [str(tmp_path / "one.log"), str(tmp_path / "two.log")]
    for i in range(10):
        problem = race_round(ckptfs_bin, corpus_mapping, mnt, logs)
        assert not problem, f"round {i}: {problem}"
        assert not mounts_at(mnt)


# ---------------------------------------------------------------------------------------
# wrong values, and checks that disagree

@pytest.mark.parametrize("opt, message", [
    ("readahead=4194305", "readahead=4194305 is out of range (0 to 1048576 KiB)"),
    ("readahead=1048577", "readahead=1048577 is out of range (0 to 1048576 KiB)"),
    ("readahead=18446744073709551617",
     "readahead=18446744073709551617 is out of range (0 to 1048576 KiB)"),
    ("readahead=-1", "readahead=-1 is not a number (0 to 1048576 KiB)"),
    ("readahead=1M", "readahead=1M is not a number"),
    ("readahead=", "readahead= is not a number"),
    ("max_read=64k", "max_read=64k is not a number (4096 to 1048576 bytes)"),
    ("max_read=-4096", "max_read=-4096 is not a number"),
])
def test_numeric_options_never_wrap(ckptfs_bin, corpus_mapping, tmp_path, opt, message):
    mnt = str(tmp_path / "mnt")
    os.makedirs(mnt)
    try:
        r = run_daemon(ckptfs_bin, corpus_mapping, mnt, "-f", "-o", opt)
        assert r.returncode == 1, r
        assert f"ckptfs: {message}" in r.stderr, r.stderr
    finally:
        assert_not_mounted(mnt)


@pytest.mark.parametrize("value, used", [("4294967297", None), ("99999999999999999999", None),
                                         ("4095", 4096), ("65536", 65536)])
def test_max_read_is_clamped_not_wrapped(ckptfs_bin, corpus_mapping, tmp_path, value, used):
    """2^32 + 1 used to wrap to 1 (then clamped to 4096): any value now clamps from what
    was given, and says so. The top is 1 MiB where a splice pipe can hold such a reply
    (None: that limit)."""
    used = splice_max_read() if used is None else used
    mnt = str(tmp_path / "mnt")
    with mountlib.mounted(ckptfs_bin, corpus_mapping, mnt, "-o", f"max_read={value}",
                          expect_clean_log=False) as m:
        line = [ln for ln in open("/proc/self/mounts") if f" {m.path} " in ln]
        assert line and re.search(rf"\bmax_read={used}\b", line[0]), line
        notice = f"max_read={value} is out of range, using {used}"
        assert (notice in m.log()) == (str(used) != value), m.log()


def test_readahead_at_its_maximum_mounts(ckptfs_bin, corpus_mapping, tmp_path):
    with mountlib.mounted(ckptfs_bin, corpus_mapping, str(tmp_path / "mnt"),
                          "-o", "readahead=1048576", expect_clean_log=False) as m:
        assert "model.ckpt.index" in os.listdir(m.path)
        assert "out of range" not in m.log()


BAD_PREFIXES = {
    "too_long": ("p" * 240, "is longer than 255 bytes: use a shorter prefix"),
    "star": ("model*", "contains '*', which TensorFlow takes for a pattern"),
    "question": ("model?", "contains '?', which TensorFlow takes for a pattern"),
    "bracket": ("model[1]", "contains '[', which TensorFlow takes for a pattern"),
    "backslash": ("a\\b", "contains '\\\\', which TensorFlow takes for a pattern"),
}


@pytest.mark.parametrize("case", sorted(BAD_PREFIXES))
def test_check_refuses_what_a_mount_refuses(run_ckptfs, ckptfs_bin, corpus_mapping, tmp_path,
                                            case):
    """`ckptfs check` said "ok" for a prefix the mount then refused: both, and ls and
    materialize, now give the same message, from the same place."""
    prefix, message = BAD_PREFIXES[case]
    conf = tmp_path / "bad.conf"
    text = open(corpus_mapping).read()
    quoted = prefix.replace("\\", "\\\\")
    conf.write_text(text + f'prefix = "{quoted}"\n')
    line = len(text.splitlines()) + 1
    want = f"{conf}:{line}:1: error: "
    outputs = []
    for args in (["check", conf], ["ls", conf], ["materialize", conf, tmp_path / "out"]):
        r = run_ckptfs(*args)
        assert r.rc == 1 and want in r.stderr and message in r.stderr, r.describe()
        outputs.append(r.stderr)
    assert not os.path.exists(tmp_path / "out.index")
    mnt = str(tmp_path / "mnt")
    os.makedirs(mnt)
    try:
        r = run_daemon(ckptfs_bin, str(conf), mnt, "-f")
        assert r.returncode == 1, r
        outputs.append(r.stderr)
    finally:
        assert_not_mounted(mnt)
    assert len(set(outputs)) == 1, outputs
    # and -o prefix= the same, without a position (the mapping is not at fault)
    os.makedirs(mnt, exist_ok=True)
    try:
        # libfuse's -o takes a backslash as an escape: double it
        r = run_daemon(ckptfs_bin, corpus_mapping, mnt, "-f", "-o",
                                "prefix=" + prefix.replace("\\", "\\\\"))
        assert r.returncode == 1 and message in r.stderr, r
    finally:
        assert_not_mounted(mnt)


def test_prefix_that_is_not_utf8_is_refused(ckptfs_bin, corpus_mapping, tmp_path):
    mnt = str(tmp_path / "mnt")
    os.makedirs(mnt)
    try:
        r = subprocess.run(exec_prefix() + [ckptfs_bin, corpus_mapping, mnt, "-f",
                                            b"-oprefix=caf\xe9"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        assert r.returncode == 1, r
        assert b"prefix 'caf\\xe9' is not UTF-8 (TensorFlow cannot open it)" in r.stderr, r
    finally:
        assert_not_mounted(mnt)


def test_longest_prefix_that_fits_mounts(ckptfs_bin, run_ckptfs, corpus_mapping, tmp_path):
    """255 bytes for PREFIX.data-00000-of-00001: check, the mount and TensorFlow agree."""
    prefix = "p" * (255 - len(".data-00000-of-00001"))
    conf = tmp_path / "long.conf"
    conf.write_text(open(corpus_mapping).read() + f"prefix = {prefix}\n")
    r = run_ckptfs("check", conf)
    assert r.rc == 0, r.describe()
    with mountlib.mounted(ckptfs_bin, str(conf), str(tmp_path / "mnt")) as m:
        assert prefix + ".data-00000-of-00001" in os.listdir(m.path)
        import tensorflow as tf
        assert tf.train.latest_checkpoint(m.path) == os.path.join(m.path, prefix)


# ---------------------------------------------------------------------------------------
# a mountpoint that holds files

@pytest.mark.parametrize("entry", ["file", ".hidden", "dir"])
def test_non_empty_mountpoint_is_refused(ckptfs_bin, corpus_mapping, tmp_path, entry):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if entry == "dir":
        (mnt / "sub").mkdir()
    else:
        (mnt / entry).write_text("mine\n")
    try:
        r = run_daemon(ckptfs_bin, corpus_mapping, str(mnt), "-f")
        assert r.returncode == 2, r
        assert (f"ckptfs: mountpoint '{mnt}' is not empty (mount on an empty directory, "
                "or add -o nonempty to hide what is there)") in r.stderr, r.stderr
    finally:
        assert_not_mounted(str(mnt))


def test_nonempty_option_mounts_over_files(ckptfs_bin, corpus_mapping, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    (mnt / "mine").write_text("mine\n")
    with mountlib.mounted(ckptfs_bin, corpus_mapping, str(mnt), "-o", "nonempty") as m:
        assert "mine" not in os.listdir(m.path)
        assert "model.ckpt.index" in os.listdir(m.path)
    assert (mnt / "mine").read_text() == "mine\n"


# ---------------------------------------------------------------------------------------
# what exclude hides, and what it does not (docs/mapping.md, `exclude`)

SECRET_BYTES = b"TOP-SECRET-" * 91                         # 1001 bytes
BIG_SECRET = bytes(b ^ 0x5A for b in SECRET_BYTES) * 80   # 80 KiB: more than the 64 KiB gap


@pytest.fixture
def secret_source(tmp_path) -> str:
    """a | secret | b | big_secret | c | tail_secret in one shard; a mapping that excludes
    every *secret."""
    rng = np.random.default_rng(5)
    pad = lambda n: rng.integers(0, 256, n, dtype=np.uint8).tobytes()  # noqa: E731
    tensors = [Tensor("a", DT_UINT8, [512], pad(512)),
               Tensor("secret", DT_UINT8, [len(SECRET_BYTES)], SECRET_BYTES),
               Tensor("b", DT_UINT8, [512], pad(512)),
               Tensor("big_secret", DT_UINT8, [len(BIG_SECRET)], BIG_SECRET),
               Tensor("c", DT_UINT8, [512], pad(512)),
               Tensor("tail_secret", DT_UINT8, [len(SECRET_BYTES)], SECRET_BYTES[::-1])]
    prefix = str(tmp_path / "src" / "model")
    os.makedirs(os.path.dirname(prefix))
    write_bundle(prefix, tensors)
    conf = tmp_path / "m.conf"
    conf.write_text(f"source s = {prefix}\nmap s:/ -> /\nexclude s:*secret\n")
    return str(conf)


def _leaks(data: bytes) -> list[str]:
    """Which of the excluded tensors' bytes appear in data."""
    return [name for name, b in (("secret", SECRET_BYTES), ("big_secret", BIG_SECRET[:4096]),
                                  ("tail_secret", SECRET_BYTES[::-1])) if b in data]


@pytest.mark.parametrize("layout, unmapped", [("single", ""), ("shards", "hidden")])
def test_excluded_bytes_are_not_readable(ckptfs_bin, run_ckptfs, tf_registered, secret_source,
                                         tmp_path, layout, unmapped):
    """Neither through the mount nor through the TensorFlow plugin: the single layout's
    file holds only the merged tensors, a shards file with `unmapped = hidden` has zeros
    where the shard's other tensors are; TensorFlow reads the merge unchanged."""
    with open(secret_source, "a") as f:   # the mount and the plugin read the same
        f.write(f"layout = {layout}\n" + (f"unmapped = {unmapped}\n" if unmapped else ""))
    r = run_ckptfs("ls", secret_source)
    assert r.rc == 0 and sorted(ls_names(r.stdout)) == [b"a", b"b", b"c"], r.describe()
    tf = tf_registered
    src = tf.train.load_checkpoint(os.path.join(tmp_path, "src", "model"))
    want = {name: src.get_tensor(name) for name in ("a", "b", "c")}
    with mountlib.mounted(ckptfs_bin, secret_source, str(tmp_path / "mnt")) as m:
        with open(m.join("model.ckpt.data-00000-of-00001"), "rb") as f:
            data = f.read()
        merged = tf.train.load_checkpoint(m.join("model.ckpt"))
        got = {name: merged.get_tensor(name) for name in ("a", "b", "c")}
        del merged   # TensorFlow's reader keeps the mount's files open
    assert _leaks(data) == [], layout
    if layout == "single":
        assert len(data) == 3 * 512
    for name in want:
        assert (got[name] == want[name]).all(), name
    via_plugin = tf.io.gfile.GFile(f"ckptfs://{secret_source}/model.ckpt.data-00000-of-00001",
                                   "rb").read()
    assert via_plugin == data


def test_a_shards_file_shows_its_shard_and_check_says_so(ckptfs_bin, run_ckptfs,
                                                         secret_source, tmp_path):
    """`unmapped = shown` (the default) keeps a shards file the source shard, byte for
    byte (passthrough), and `ckptfs check` names what it shows."""
    src_data = open(os.path.join(tmp_path, "src", "model.data-00000-of-00001"), "rb").read()
    with open(secret_source, "a") as f:
        f.write("layout = shards\n")
    r = run_ckptfs("check", secret_source)
    assert r.rc == 0, r.describe()
    assert ("model.ckpt.data-00000-of-00001 shows 3 tensor(s), "
            f"{(2 * len(SECRET_BYTES) + len(BIG_SECRET)) / 1024:.1f} KiB, "
            "that the merge does not hold") in r.stdout.decode(), r.describe()
    with mountlib.mounted(ckptfs_bin, secret_source, str(tmp_path / "mnt")) as m:
        with open(m.join("model.ckpt.data-00000-of-00001"), "rb") as f:
            assert f.read() == src_data


@pytest.mark.parametrize("mode", [[], ["--link"]], ids=["copy", "link"])
def test_materialize_leaves_excluded_bytes_out(run_ckptfs, secret_source, tmp_path, mode):
    out = str(tmp_path / "out" / "model")
    os.makedirs(os.path.dirname(out))
    r = run_ckptfs("materialize", *mode, secret_source, out)
    assert r.rc == 0, r.describe()
    data = open(out + ".data-00000-of-00001", "rb").read()
    if mode:   # --link: the data file is the source shard, whole (as documented)
        assert SECRET_BYTES in data and BIG_SECRET in data
    else:
        assert SECRET_BYTES not in data and BIG_SECRET[:4096] not in data
        assert SECRET_BYTES[::-1] not in data
        assert len(data) == 3 * 512
