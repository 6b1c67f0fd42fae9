"""Remote sources (issue 20): checkpoints on S3 and HTTP(S) servers the tests start.

Servers (tests/pylib/servers.py, installed by scripts/install-deps): s3s-fs, an S3 API
that checks SigV4 and serves ranges; Debian's nginx over https with a self-signed
certificate (and plain http); a fault-injecting proxy in Python in front of s3s-fs. All
listen on 127.0.0.1 only, start once for this module and are killed at its end.

TensorFlow writes the sources (tf.train.Checkpoint, a TF1 Saver, raw SaveV2) and is the
judge: what it restores from a merge of remote sources, through the mount and through the
plugin (ckptfs://), equals what it restores from the same merge of the local files; the
files' bytes are equal too. Then: the commands (check, ls, verify, materialize), bytes
moved by a partial merge and by a remount (counted from /proc/PID/io of the server),
a cache shared by two processes, a tiny cache cap, and faults: flipped bytes, an object
replaced after mounting, the server killed and restarted, a stalled server, wrong keys,
a missing object, odd characters in keys.
"""

from __future__ import annotations

import concurrent.futures
import errno
import gc
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.parse

import numpy as np
import pytest

import tfgen
from pylib import mounting
from pylib import servers as S
from pylib.testenv import CORPUS

BUCKET = "ckpts"
PREFIX = "model.ckpt"
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
LAYOUTS = ["single", "shards"]
# a short remote timeout for the fault tests (seconds), and how long past it a failing
# read may take (retries and backoff are inside the timeout; this is scheduling slack)
TIMEOUT_S = 2.0
FAIL_BOUND_S = 3 * TIMEOUT_S + 4
# the corpus merged under a/ b/ c/ d/ (as test_mount_basic)
CORPUS_SOURCES = {"a": "serving_half_plus_two_tf1", "b": "serving_half_plus_two_tf2",
                  "c": "tfx_estimator_tf1", "d": "tfx_keras_tf2"}
WIDE_N, WIDE_ELEMS = 8, 65536          # 8 float32 tensors of 256 KiB: 2 MiB
ODD_KEY_DIR = "odd dir/a+b %41 ü€ ~(x)=;,'!@$&"


# ---------------------------------------------------------------------------------------
# servers and sources, once for the module

@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory):
    return tmp_path_factory.mktemp("remote")


@pytest.fixture(scope="module")
def s3(tmp_module):
    srv = S.S3Server(str(tmp_module / "s3root"))
    os.makedirs(srv.path(BUCKET), exist_ok=True)
    with srv:
        yield srv


@pytest.fixture(scope="module")
def nginx(tmp_module):
    with S.NginxServer(str(tmp_module / "www"), str(tmp_module / "nginx")) as srv:
        yield srv


@pytest.fixture(scope="module")
def proxy(s3):
    with S.FaultProxy(s3.port) as p:
        yield p


@pytest.fixture(scope="module", autouse=True)
def remote_env(s3, nginx, tmp_module):
    """The AWS_* variables for s3s-fs and the CA of nginx's certificate, for this module
    (daemons and commands inherit them; the plugin reads them in this process)."""
    saved = dict(os.environ)
    os.environ.update(s3.env())
    os.environ["AWS_CA_BUNDLE"] = nginx.cert
    os.environ["CKPTFS_CACHE_DIR"] = str(tmp_module / "default-cache")
    for k in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
              "CKPTFS_CACHE_SIZE", "CKPTFS_REMOTE_TIMEOUT"):
        os.environ.pop(k, None)
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_module / "no-such-credentials")
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> str:
    """A cold cache of the test's own (CKPTFS_CACHE_DIR)."""
    d = str(tmp_path / "cache")
    monkeypatch.setenv("CKPTFS_CACHE_DIR", d)
    return d


def _wide_values(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {f"w{i}": rng.standard_normal(WIDE_ELEMS).astype(np.float32) for i in range(WIDE_N)}


def _net(tf, seed: int):
    rng = np.random.default_rng(seed)
    net = tf.Module()
    net.w = tf.Variable(rng.standard_normal((3, 4)).astype(np.float32))
    net.b = tf.Variable(rng.standard_normal(4).astype(np.float32))
    net.layers = [tf.Variable(rng.standard_normal((2, 2)).astype(np.float32)),
                  tf.Variable(np.int64(seed))]
    return net


def _net_values(net) -> list:
    return [net.w.numpy(), net.b.numpy(), net.layers[0].numpy(), net.layers[1].numpy()]


class Sources:
    """Where everything is: local paths and their URLs."""


@pytest.fixture(scope="module")
def src(tf_registered, s3, nginx, tmp_module, corpus_copy):
    tf = tf_registered
    out = Sources()
    local = tmp_module / "local"
    local.mkdir()
    out.local = str(local)
    # the corpus: s3://ckpts/corpus/..., https://.../corpus/...
    out.corpus = {n: os.path.join(corpus_copy, CORPUS[c]) for n, c in CORPUS_SOURCES.items()}
    out.corpus_url = {}
    out.corpus_https = {}
    for n, c in CORPUS_SOURCES.items():
        rel = "corpus/" + CORPUS[c]
        out.corpus_url[n] = s3.upload_checkpoint(out.corpus[n], BUCKET, rel)
        out.corpus_https[n] = nginx.upload_checkpoint(out.corpus[n], rel)
    # TF1 Saver and TF2 CheckpointManager directories (with `checkpoint` state files)
    tf1 = tfgen.make_tf1_saver(out.local)[0]
    tf2 = tfgen.make_tf2_manager(out.local)[0]
    out.tf1, out.tf2 = tf1, tf2
    out.tf1_url = s3.upload_tree(tf1.root, BUCKET, "tf1_saver")
    out.tf2_url = s3.upload_tree(tf2.root, BUCKET, "tf2_manager")
    for f in os.listdir(tf1.root):
        nginx.put_file("tf1_saver/" + f, os.path.join(tf1.root, f))
    out.tf1_https = f"{nginx.base_url}/tf1_saver"
    out.tf1_http = f"{nginx.http_base_url}/tf1_saver"
    # two tf.Module trees saved by tf.train.Checkpoint, for a merge by object
    out.objs, out.objs_url, out.objs_values = {}, {}, {}
    for n, seed in (("a", 1), ("b", 2)):
        net = _net(tf, seed)
        prefix = tf.train.Checkpoint(net=net).save(str(local / "objs" / n / "ckpt"))
        out.objs[n] = prefix
        out.objs_values[n] = _net_values(net)
        out.objs_url[n] = s3.upload_checkpoint(prefix, BUCKET, f"objs/{n}/ckpt-1")
    # "wide": 8 tensors of 256 KiB (partial merges, faults); wide2: same keys, other values
    out.wide_values, out.wide2_values = _wide_values(11), _wide_values(12)
    out.wide = str(local / "wide" / "ckpt")
    out.wide2 = str(local / "wide2" / "ckpt")
    order = [f"w{i}" for i in range(WIDE_N)]
    tfgen._save_v2(out.wide, out.wide_values, order)
    tfgen._save_v2(out.wide2, out.wide2_values, order)
    out.wide_url = s3.upload_checkpoint(out.wide, BUCKET, "wide/ckpt")
    # the TF1 checkpoint again under a key with odd characters, on S3 and on nginx
    out.odd_url = s3.upload_checkpoint(tf1.prefix, BUCKET, ODD_KEY_DIR + "/mo del+1%2F")
    nginx.upload_checkpoint(tf1.prefix, ODD_KEY_DIR + "/mo del+1%2F")
    out.odd_https = nginx.base_url + "/" + urllib.parse.quote(ODD_KEY_DIR + "/mo del+1%2F")
    # a SavedModel (its export directory and its variables/ directory)
    out.sm = tfgen.make_savedmodel(out.local)[0]
    out.sm_url = s3.upload_tree(out.sm.ckpt, BUCKET, "savedmodel/export")
    return out


# ---------------------------------------------------------------------------------------
# helpers

def write(path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path)


def q(word: str) -> str:
    """A mapping word, quoted (mapping.md: `\\"` and `\\\\` are the only escapes)."""
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def corpus_mapping(path, urls: dict, layout: str | None = None) -> str:
    lines = [f"source {n} = {q(u)}" for n, u in urls.items()]
    lines += [f"map {n}:/ -> {n}/" for n in urls]
    if layout:
        lines.append(f"layout = {layout}")
    if layout == "shards":   # what a remote shard's file always is
        lines.append("unmapped = hidden")
    return write(path, "\n".join(lines) + "\n")


def uri(mapping: str, *names: str) -> str:
    return "ckptfs://" + "/".join((os.path.abspath(mapping),) + names)


def files_of(d: str) -> dict[str, bytes]:
    out = {}
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n), "rb") as f:
            out[n] = f.read()
    return out


def gfile_files(tf, base: str) -> dict[str, bytes]:
    return {n: tf.io.gfile.GFile(base + "/" + n, "rb").read()
            for n in sorted(tf.io.gfile.listdir(base))}


class TFReadError(Exception):
    """What TensorFlow raised (its class name in .kind), without the traceback: that
    would keep TensorFlow's reader, and so the mount's files, open."""

    def __init__(self, kind: str, msg: str):
        super().__init__(f"{kind}: {msg}")
        self.kind = kind


def tf_values(tf, prefix: str, names: list[str] | None = None) -> dict:
    failed = None
    r = None
    try:
        r = tf.train.load_checkpoint(prefix)
        return {n: r.get_tensor(n) for n in names or
                [n for n, _ in tf.train.list_variables(prefix)]}
    except Exception as e:  # noqa: BLE001 - re-raised below, without its frames
        failed = (type(e).__name__, str(e))
    finally:
        del r
    gc.collect()
    raise TFReadError(*failed)


def assert_same_values(got: dict, want: dict, what: str):
    assert sorted(got) == sorted(want), what
    for k in want:
        g, w = np.asarray(got[k]), np.asarray(want[k])
        assert g.dtype == w.dtype and g.shape == w.shape, (what, k, g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w, err_msg=f"{what}: {k}")


def mount(ckptfs_bin, mapping, mnt, *opts, **kw):
    return mounting.mounted(ckptfs_bin, mapping, str(mnt), *opts, **kw)


def ls_sizes(run_ckptfs, what: str) -> dict[str, int]:
    r = run_ckptfs("ls", what)
    assert r.rc == 0, r.describe()
    return {ln.split("\t")[0]: int(ln.split("\t")[5]) for ln in r.stdout.decode().splitlines()}


def source_object_sizes(prefix: str) -> tuple[int, int]:
    """(size of PREFIX.index, total size of the data shards)."""
    d, base = os.path.split(prefix)
    idx = os.path.getsize(prefix + ".index")
    data = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)
               if f.startswith(base + ".data-"))
    return idx, data


def timeout_opts(ckptfs_bin, monkeypatch) -> list[str]:
    """A short remote timeout: `-o remote_timeout=` for a mount, and
    CKPTFS_REMOTE_TIMEOUT for the commands and the plugin."""
    monkeypatch.setenv("CKPTFS_REMOTE_TIMEOUT", f"{TIMEOUT_S:g}")
    return ["-o", f"remote_timeout={TIMEOUT_S:g}"]


READER = r"""
import errno, json, os, sys, time
path, chunk, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = time.monotonic()
res = {"errno": 0, "offset": 0}
try:
    fd = os.open(path, os.O_RDONLY)
    with open(out, "wb") as f:
        while True:
            try:
                b = os.pread(fd, chunk, res["offset"])
            except OSError as e:
                res["errno"] = e.errno
                break
            if not b:
                break
            f.write(b)
            res["offset"] += len(b)
except OSError as e:
    res["errno"] = e.errno
res["seconds"] = time.monotonic() - t
print(json.dumps(res))
"""


def read_in_child(path: str, out: str, chunk: int = 256 << 10, timeout: float = 120,
                  start: bool = False):
    """Read path sequentially in another process (a hung read cannot hang pytest):
    {"errno", "offset" reached, "seconds"}; the bytes read are in out. start=True returns
    the Popen instead, for the caller to act while it reads."""
    argv = [sys.executable, "-c", READER, path, str(chunk), out]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    if start:
        return p
    return finish_child(p, timeout)


def finish_child(p: subprocess.Popen, timeout: float) -> dict:
    try:
        so, se = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail(f"a read of the mount still hung after {timeout}s")
    assert p.returncode == 0, se
    return json.loads(so)


# ---------------------------------------------------------------------------------------
# the same merge, remote and local: bytes and TensorFlow's values

@pytest.mark.parametrize("layout", LAYOUTS)
def test_corpus_from_s3_equals_local(layout, src, ckptfs_bin, tf_registered, tmp_path,
                                     cache_dir, monkeypatch):
    tf = tf_registered
    remote = corpus_mapping(tmp_path / "remote.conf", src.corpus_url, layout)
    local = corpus_mapping(tmp_path / "local.conf", src.corpus, layout)
    with mount(ckptfs_bin, local, tmp_path / "lm", "-o", f"layout={layout}") as lm:
        want_files = files_of(lm.path)
        want = tf_values(tf, lm.join(PREFIX))
    with mount(ckptfs_bin, remote, tmp_path / "rm", "-o", f"layout={layout}") as rm:
        assert files_of(rm.path) == want_files
        assert_same_values(tf_values(tf, rm.join(PREFIX)), want, "mount")
    # the plugin, with a cold cache of its own
    monkeypatch.setenv("CKPTFS_CACHE_DIR", cache_dir + "-plugin")
    assert gfile_files(tf, uri(remote)) == want_files
    assert_same_values(tf_values(tf, uri(remote, PREFIX)), want, "plugin")


def test_safetensors_view_of_s3_sources(src, ckptfs_bin, tf_registered, tmp_path, cache_dir,
                                        monkeypatch):
    """format = both over remote sources: PREFIX.safetensors reads the remote bytes too
    (fetched and verified before they are served), equal to the local merge's file, and
    the safetensors package loads it."""
    from safetensors.numpy import load_file
    tf = tf_registered
    files = {}
    for kind, urls in (("local", src.corpus), ("remote", src.corpus_url)):
        conf = tmp_path / f"{kind}.conf"
        # TF1 sources: a TF2 object graph has no place in a .safetensors file (a warning)
        tf1 = {n: u for n, u in urls.items() if "tf1" in u}
        assert tf1, urls
        corpus_mapping(conf, tf1)
        with open(conf, "a") as f:
            f.write("format = both\n")
        with mount(ckptfs_bin, str(conf), tmp_path / f"m-{kind}") as m:
            files[kind] = files_of(m.path)
            st = os.path.join(m.path, PREFIX + ".safetensors")
            loaded = load_file(st)
        assert loaded, kind
    assert files["remote"] == files["local"]
    monkeypatch.setenv("CKPTFS_CACHE_DIR", cache_dir + "-plugin-st")
    assert gfile_files(tf, uri(str(tmp_path / "remote.conf"))) == files["local"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_tf1_and_tf2_directories_from_s3(layout, src, ckptfs_bin, tf_registered, tmp_path,
                                         cache_dir):
    """A TF1 Saver's directory (its `checkpoint` object holds an absolute local path) and
    a TF2 CheckpointManager's (relative), restored by TensorFlow as they were saved."""
    tf1 = write(tmp_path / "tf1.conf", f"""\
        source s = {src.tf1_url}
        map s:/ -> /
        layout = {layout}
        """)
    tf2 = write(tmp_path / "tf2.conf", f"""\
        source s = {src.tf2_url}
        map s:/ -> /
        map s:{GRAPH_KEY} -> {GRAPH_KEY}
        layout = {layout}
        """)
    want2 = tfgen.tf2_restore_values(src.tf2.prefix)
    with mount(ckptfs_bin, tf1, tmp_path / "m1") as m:
        assert tf_registered.train.latest_checkpoint(m.path) == m.join(PREFIX)
        assert_same_values(tfgen.tf1_restore_values(m.join(PREFIX)), src.tf1.expected,
                           "tf1 mount")
    with mount(ckptfs_bin, tf2, tmp_path / "m2") as m:
        assert_same_values(tfgen.tf2_restore_values(m.join(PREFIX)), want2, "tf2 mount")
    assert_same_values(tfgen.tf1_restore_values(uri(tf1, PREFIX)), src.tf1.expected,
                       "tf1 plugin")
    assert_same_values(tfgen.tf2_restore_values(uri(tf2, PREFIX)), want2, "tf2 plugin")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_tf2_merge_by_object_from_s3(layout, src, ckptfs_bin, run_ckptfs, tf_registered,
                                     tmp_path, cache_dir):
    tf = tf_registered
    mapping = write(tmp_path / "m.conf", f"""\
        source a = {src.objs_url['a']}
        source b = {src.objs_url['b']}
        map a:/ -> encoder/
        map b:/ -> decoder/
        layout = {layout}
        """)

    def check(prefix: str):
        fa, fb = _net(tf, 101), _net(tf, 102)
        enc, dec = tf.train.Checkpoint(net=fa), tf.train.Checkpoint(net=fb)
        enc.save_counter, dec.save_counter  # the sources saved theirs: make them exist
        status = tf.train.Checkpoint(encoder=enc, decoder=dec).read(prefix)
        status.assert_consumed()
        status.assert_existing_objects_matched()
        for net, n in ((fa, "a"), (fb, "b")):
            for got, want in zip(_net_values(net), src.objs_values[n]):
                np.testing.assert_array_equal(got, want, err_msg=f"{prefix}: {n}")

    with mount(ckptfs_bin, mapping, tmp_path / "mnt") as m:
        check(m.join(PREFIX))
    check(uri(mapping, PREFIX))
    out = tmp_path / "copy" / PREFIX
    out.parent.mkdir()
    r = mounting.run_cmd([ckptfs_bin, "materialize", mapping, str(out)])
    assert r.rc == 0, r.describe()
    check(str(out))


def test_https_and_http_via_nginx(src, nginx, ckptfs_bin, tf_registered, tmp_path, cache_dir,
                                  monkeypatch):
    """The corpus and the TF1 directory from a web server: https (a self-signed
    certificate, trusted through AWS_CA_BUNDLE) and plain http."""
    tf = tf_registered
    urls = dict(src.corpus_https)
    remote = corpus_mapping(tmp_path / "remote.conf", urls)
    local = corpus_mapping(tmp_path / "local.conf", src.corpus)
    with mount(ckptfs_bin, local, tmp_path / "lm") as lm:
        want_files = files_of(lm.path)
        want = tf_values(tf, lm.join(PREFIX))
    sent = nginx.sent_bytes()
    with mount(ckptfs_bin, remote, tmp_path / "rm") as rm:
        assert files_of(rm.path) == want_files
        assert_same_values(tf_values(tf, rm.join(PREFIX)), want, "https mount")
    assert nginx.sent_bytes() > sent + sum(len(b) for b in want_files.values()) // 2, \
        "the bytes did not come from nginx"
    monkeypatch.setenv("CKPTFS_CACHE_DIR", cache_dir + "-plugin")
    assert_same_values(tf_values(tf, uri(remote, PREFIX)), want, "https plugin")
    for url in (src.tf1_https, src.tf1_http):
        mapping = write(tmp_path / f"{url.split(':')[0]}.conf", f"""\
            source s = {url}
            map s:/ -> /
            """)
        with mount(ckptfs_bin, mapping, tmp_path / f"m-{url.split(':')[0]}") as m:
            assert_same_values(tfgen.tf1_restore_values(m.join(PREFIX)), src.tf1.expected, url)


def test_https_refuses_an_untrusted_certificate(src, ckptfs_bin, tmp_path, cache_dir,
                                                monkeypatch):
    monkeypatch.delenv("AWS_CA_BUNDLE")
    mapping = write(tmp_path / "m.conf", f"source s = {src.tf1_https}\nmap s:/ -> /\n")
    r = mounting.run_cmd([ckptfs_bin, "check", mapping])
    assert r.rc == 1, r.describe()
    assert re.search(rf"^{re.escape(mapping)}:1:\d+: error: .*{re.escape(src.tf1_https)}",
                     r.stderr, re.M), r.describe()
    assert re.search(r"certificate|SSL|TLS", r.stderr, re.I), r.describe()


# ---------------------------------------------------------------------------------------
# the commands

def test_commands_with_s3_sources(src, run_ckptfs, ckptfs_bin, tf_registered, tmp_path,
                                  cache_dir):
    tf = tf_registered
    urls = dict(src.corpus_url, w=src.wide_url)
    paths = dict(src.corpus, w=src.wide)
    remote = corpus_mapping(tmp_path / "remote.conf", urls)
    local = corpus_mapping(tmp_path / "local.conf", paths)
    # check: ok, every source named by its URL
    r = run_ckptfs("check", remote)
    assert r.rc == 0, r.describe()
    for u in urls.values():
        assert u in r.stdout.decode(), r.describe()
    rl = run_ckptfs("check", local)
    assert r.stdout.decode().splitlines()[-1] == rl.stdout.decode().splitlines()[-1]
    # ls of the mapping and of each URL: as for the local files
    r, rl = run_ckptfs("ls", remote), run_ckptfs("ls", local)
    assert r.rc == 0 and r.stdout == rl.stdout, r.describe()
    for n, u in urls.items():
        r, rl = run_ckptfs("ls", u), run_ckptfs("ls", paths[n])
        assert r.rc == 0 and r.stdout == rl.stdout, r.describe()
        # verify: every tensor read and its CRC32C checked
        r = run_ckptfs("verify", u)
        assert r.rc == 0, r.describe()
    # ls and verify of a directory URL (the `checkpoint` object names the latest)
    r, rl = run_ckptfs("ls", src.tf2_url), run_ckptfs("ls", src.tf2.root)
    assert r.rc == 0 and r.stdout == rl.stdout, r.describe()
    # materialize: the same files as from the local sources, restored by TensorFlow
    for mapping, name in ((remote, "r"), (local, "l")):
        (tmp_path / name).mkdir()
        r = mounting.run_cmd([ckptfs_bin, "materialize", mapping, str(tmp_path / name / PREFIX)])
        assert r.rc == 0, r.describe()
    # the same tensors (the order in the data file may differ: not compared)
    listing = [run_ckptfs("ls", str(tmp_path / d / PREFIX)) for d in ("r", "l")]
    assert [[ln.split("\t")[i] for i in (0, 1, 2, 5)
             for ln in x.stdout.decode().splitlines()] for x in listing] == \
        [[ln.split("\t")[i] for i in (0, 1, 2, 5)
          for ln in listing[1].stdout.decode().splitlines()]] * 2
    r = run_ckptfs("verify", str(tmp_path / "r" / PREFIX))
    assert r.rc == 0, r.describe()
    assert_same_values(tf_values(tf, str(tmp_path / "r" / PREFIX)),
                       tf_values(tf, str(tmp_path / "l" / PREFIX)), "materialized")


# ---------------------------------------------------------------------------------------
# bytes moved

@pytest.mark.parametrize("layout", LAYOUTS)
def test_partial_merge_moves_only_its_bytes(layout, src, s3, via_proxy, run_ckptfs, ckptfs_bin,
                                            tf_registered, tmp_path):
    """3 of the 8 tensors of 256 KiB (none adjacent): mounting fetches the index only, a
    restore of the merge moves <= 1.1x the tensors' bytes (plus the index and a few
    hundred bytes of headers per request). Counted at s3s-fs; the requests go through the
    proxy (passing everything) only so that a failure can show their ranges."""
    tf = tf_registered
    picked = ["w1", "w4", "w6"]
    mapping = write(tmp_path / "m.conf", f"source w = {src.wide_url}\n" +
                    "".join(f"map w:{k} -> {k}\n" for k in picked))
    sizes = ls_sizes(run_ckptfs, src.wide)
    needed = sum(sizes[k] for k in picked)
    r = run_ckptfs("ls", src.wide)
    tensor_ranges = {ln.split("\t")[0]: f"{ln.split(chr(9))[4]}+{ln.split(chr(9))[5]}"
                     for ln in r.stdout.decode().splitlines()}
    index_size, data_size = source_object_sizes(src.wide)
    assert needed * 2 < data_size
    slack = 64 << 10            # response headers: ~250 bytes a request
    before = s3.sent_bytes()
    with mount(ckptfs_bin, mapping, tmp_path / "mnt", "-o", f"layout={layout}") as m:
        mounted = s3.sent_bytes() - before
        assert mounted <= index_size + slack, \
            f"mounting moved {mounted} bytes; the index is {index_size}: {via_proxy.log}"
        got = tf_values(tf, m.join(PREFIX))
        if layout == "single":   # the whole merged data file: the picked tensors only
            files_of(m.path)
        moved = s3.sent_bytes() - before
    assert_same_values(got, {k: src.wide_values[k] for k in picked}, "partial")
    bound = 1.1 * needed + index_size + slack
    assert moved <= bound, (f"{layout}: the server sent {moved} bytes for {needed} bytes of "
                            f"tensors + a {index_size}-byte index (bound {bound:.0f}; "
                            f"the whole shard is {data_size}; tensors at "
                            f"{sorted(tensor_ranges.items())}); requests: {via_proxy.log}")


def test_second_mount_moves_no_body_bytes(src, s3, ckptfs_bin, tf_registered, tmp_path,
                                          cache_dir):
    tf = tf_registered
    urls = dict(src.corpus_url, w=src.wide_url)
    mapping = corpus_mapping(tmp_path / "m.conf", urls)
    n_objects = 2 * len(urls)
    total = sum(sum(source_object_sizes(p)) for p in list(src.corpus.values()) + [src.wide])
    before = s3.sent_bytes()
    with mount(ckptfs_bin, mapping, tmp_path / "mnt") as m:
        first_files = files_of(m.path)
        first = tf_values(tf, m.join(PREFIX))
    cold = s3.sent_bytes() - before
    assert cold >= total * 0.9, f"a cold mount moved {cold} bytes of {total}: counting broke?"
    before = s3.sent_bytes()
    with mount(ckptfs_bin, mapping, tmp_path / "mnt") as m:
        assert files_of(m.path) == first_files
        assert_same_values(tf_values(tf, m.join(PREFIX)), first, "warm")
    warm = s3.sent_bytes() - before
    assert warm <= 1024 * n_objects, \
        f"the second mount moved {warm} bytes ({n_objects} objects, {total} bytes in all)"


def test_two_processes_share_one_cache(src, ckptfs_bin, tf_registered, tmp_path, cache_dir):
    """Two daemons and the plugin in this process, one cold cache, reading at once."""
    tf = tf_registered
    urls = dict(src.corpus_url, w=src.wide_url)
    remote = corpus_mapping(tmp_path / "m.conf", urls)
    local = corpus_mapping(tmp_path / "local.conf", dict(src.corpus, w=src.wide))
    with mount(ckptfs_bin, local, tmp_path / "lm") as lm:
        want_files = files_of(lm.path)
        want = tf_values(tf, lm.join(PREFIX))
    with mount(ckptfs_bin, remote, tmp_path / "m1") as m1, \
            mount(ckptfs_bin, remote, tmp_path / "m2") as m2:
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            jobs = [ex.submit(files_of, m1.path), ex.submit(files_of, m2.path),
                    ex.submit(gfile_files, tf, uri(remote)),
                    ex.submit(files_of, m2.path), ex.submit(files_of, m1.path)]
            for j in jobs:
                assert j.result(timeout=120) == want_files
        assert_same_values(tf_values(tf, m1.join(PREFIX)), want, "m1")
        assert_same_values(tf_values(tf, m2.join(PREFIX)), want, "m2")
    assert any(f.endswith(".data") for f in os.listdir(cache_dir)), os.listdir(cache_dir)


def test_tiny_cache_cap_evicts_under_a_reader(src, ckptfs_bin, tf_registered, tmp_path,
                                              cache_dir, monkeypatch):
    """CKPTFS_CACHE_SIZE=64K: a second daemon's objects evict the first's entries while
    it still reads them; both read right bytes throughout."""
    tf = tf_registered
    monkeypatch.setenv("CKPTFS_CACHE_SIZE", "64K")
    wide = write(tmp_path / "w.conf", f"source w = {src.wide_url}\nmap w:/ -> /\n")
    corpus = corpus_mapping(tmp_path / "c.conf", src.corpus_url)
    local = corpus_mapping(tmp_path / "local.conf", src.corpus)
    with mount(ckptfs_bin, local, tmp_path / "lm") as lm:
        corpus_files = files_of(lm.path)
    with open(src.wide + ".data-00000-of-00001", "rb") as f:
        wide_data = f.read()
    with mount(ckptfs_bin, wide, tmp_path / "m1", "-o", "layout=shards") as m1:
        data = m1.join(f"{PREFIX}.data-00000-of-00001")
        with open(data, "rb") as f:
            half = f.read(len(wide_data) // 2)
        assert half == wide_data[:len(half)]
        first_entries = set(os.listdir(cache_dir))
        with mount(ckptfs_bin, corpus, tmp_path / "m2") as m2:
            assert files_of(m2.path) == corpus_files
            with open(data, "rb") as f:
                assert f.read() == wide_data
            assert files_of(m2.path) == corpus_files
            assert_same_values(tf_values(tf, m1.join(PREFIX)), src.wide_values, "m1")
        gone = first_entries - set(os.listdir(cache_dir))
    assert gone, f"nothing evicted: {sorted(first_entries)} -> {sorted(os.listdir(cache_dir))}"
    usage = sum(os.stat(os.path.join(cache_dir, f)).st_blocks * 512
                for f in os.listdir(cache_dir))
    assert usage < len(wide_data), f"the cache holds {usage} bytes with a 64 KiB cap"


# ---------------------------------------------------------------------------------------
# faults

@pytest.fixture
def via_proxy(proxy, s3, monkeypatch, cache_dir):
    """S3 requests go through the proxy (reset to pass-through afterwards)."""
    proxy.set("pass")
    proxy.clear_log()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    yield proxy
    proxy.set("pass")


def _wide_mapping(tmp_path, url) -> str:
    return write(tmp_path / "w.conf", f"source w = {url}\nmap w:/ -> /\n")


def test_flipped_bytes_fail_with_eio_and_are_not_cached(src, s3, via_proxy, ckptfs_bin,
                                                        tf_registered, tmp_path, monkeypatch):
    tf = tf_registered
    mapping = _wide_mapping(tmp_path, src.wide_url)
    with open(src.wide + ".data-00000-of-00001", "rb") as f:
        want = f.read()
    opts = timeout_opts(ckptfs_bin, monkeypatch)
    with mount(ckptfs_bin, mapping, tmp_path / "mnt", "-o", "layout=shards", *opts,
               expect_clean_log=False) as m:
        data = m.join(f"{PREFIX}.data-00000-of-00001")
        via_proxy.set("flip", match=".data-")
        r = read_in_child(data, str(tmp_path / "bad.bin"), timeout=60)
        assert r["errno"] == errno.EIO, (r, via_proxy.log[-5:], m.log())
        assert via_proxy.faulted > 0
        with open(tmp_path / "bad.bin", "rb") as f:   # what was served was right
            assert f.read() == want[:r["offset"]]
        failed = f"w{r['offset'] // (WIDE_ELEMS * 4)}"   # not cached: fetched again, flipped
        with pytest.raises(TFReadError) as e:
            tf_values(tf, m.join(PREFIX), [failed])
        assert "Input/output error" in str(e.value) or e.value.kind == "DataLossError", \
            (str(e.value), via_proxy.log[-5:], m.log())
        assert "wide/ckpt.data-00000-of-00001" in m.log(), m.log()
        assert re.search(r"checksum|crc", m.log(), re.I), m.log()
        # the server is good again: the same mount reads right bytes
        via_proxy.set("pass")
        r = read_in_child(data, str(tmp_path / "good.bin"), timeout=60)
        assert r["errno"] == 0, (r, via_proxy.log[-5:], m.log())
        with open(tmp_path / "good.bin", "rb") as f:
            assert f.read() == want
        assert_same_values(tf_values(tf, m.join(PREFIX)), src.wide_values, "after")
    # and another mount straight from s3s-fs, with the same cache, reads them right too
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    with mount(ckptfs_bin, mapping, tmp_path / "mnt2", "-o", "layout=shards") as m:
        assert files_of(m.path)[f"{PREFIX}.data-00000-of-00001"] == want


def test_flipped_bytes_through_the_plugin(src, via_proxy, tf_registered, tmp_path,
                                          monkeypatch):
    tf = tf_registered
    monkeypatch.setenv("CKPTFS_REMOTE_TIMEOUT", f"{TIMEOUT_S:g}")
    mapping = _wide_mapping(tmp_path, src.wide_url)
    via_proxy.set("flip", match=".data-")
    # RestoreV2 keeps the status code the plugin gave (the Python CheckpointReader makes
    # every error an OpError)
    with pytest.raises(tf.errors.OpError) as e:
        tf.raw_ops.RestoreV2(prefix=uri(mapping, PREFIX), tensor_names=["w2"],
                             shape_and_slices=[""], dtypes=[tf.float32])
    msg = f"{type(e.value).__name__}: {e.value.message}"
    e = None
    assert msg.startswith("DataLossError"), (msg, via_proxy.log[-5:])
    # and says what happened: the object's bytes did not verify (not a shorter shard)
    assert re.search(r"checksum|crc", msg, re.I) and "wide/ckpt.data-00000-of-00001" in msg, msg
    via_proxy.set("pass")
    assert_same_values(tf_values(tf, uri(mapping, PREFIX)), src.wide_values, "plugin after")


# ---------------------------------------------------------------------------------------
# a tensor larger than one request, and reading ahead

BIG_ELEMS = 5 << 20            # one float32 tensor of 20 MiB: three requests of <= 8 MiB


@pytest.fixture(scope="module")
def big(src, s3):
    """A checkpoint of a 20 MiB tensor between two small ones, on s3s-fs: (url, values)."""
    rng = np.random.default_rng(21)
    values = {"a": rng.standard_normal(1000).astype(np.float32),
              "big": rng.standard_normal(BIG_ELEMS).astype(np.float32),
              "z": rng.standard_normal(10).astype(np.float32)}
    prefix = os.path.join(src.local, "big", "ckpt")
    tfgen._save_v2(prefix, values, ["a", "big", "z"])
    return s3.upload_checkpoint(prefix, BUCKET, "big/ckpt"), values


def data_gets(proxy) -> list[str]:
    return [ln for ln in proxy.log if ln.startswith("GET ") and ".data-" in ln]


def test_tensor_over_several_requests_is_checked_whole(big, via_proxy, ckptfs_bin,
                                                       tf_registered, tmp_path, monkeypatch):
    """A tensor larger than a request is fetched in parallel parts whose checksums are
    joined: TensorFlow restores it right, and a byte flipped in any part is an EIO."""
    tf = tf_registered
    url, values = big
    mapping = _wide_mapping(tmp_path, url)
    with mount(ckptfs_bin, mapping, tmp_path / "mnt") as m:
        assert_same_values(tf_values(tf, m.join(PREFIX)), values, "big")
    assert len(data_gets(via_proxy)) >= 3, via_proxy.log
    opts = timeout_opts(ckptfs_bin, monkeypatch)
    via_proxy.set("flip", match=".data-")
    with mount(ckptfs_bin, mapping, tmp_path / "mnt2", "-o",
               f"cache_dir={tmp_path / 'cache2'}", *opts, expect_clean_log=False) as m:
        with pytest.raises(TFReadError):
            tf_values(tf, m.join(PREFIX), ["big"])
        assert re.search(r"checksum|crc", m.log(), re.I), m.log()


def test_a_sequential_reader_is_read_ahead(src, via_proxy, ckptfs_bin, tmp_path):
    """Reading a file in small pieces, one after the other: the tensors after the read are
    fetched in the background, several to a request (8 tensors of 256 KiB arrive in at
    most 3 requests, where one fetch per tensor read would take 8), and the bytes are
    the shard's."""
    mapping = _wide_mapping(tmp_path, src.wide_url)
    with open(src.wide + ".data-00000-of-00001", "rb") as f:
        want = f.read()
    with mount(ckptfs_bin, mapping, tmp_path / "mnt", "-o", "layout=shards") as m:
        r = read_in_child(m.join(f"{PREFIX}.data-00000-of-00001"), str(tmp_path / "r.bin"),
                          chunk=64 << 10)
    assert r["errno"] == 0, r
    with open(tmp_path / "r.bin", "rb") as f:
        assert f.read() == want
    assert len(data_gets(via_proxy)) <= 3, via_proxy.log


def test_a_shard_all_in_the_cache_is_passed_through(src, ckptfs_bin, tmp_path, cache_dir):
    """A remote shard the merge uses whole is served by the daemon while it is being
    fetched; once every byte of it is in the cache and verified, a later open hands it to
    the kernel (FUSE passthrough to the cache file), with the same bytes."""
    mapping = _wide_mapping(tmp_path, src.wide_url)
    name = f"{PREFIX}.data-00000-of-00001"
    with open(src.wide + ".data-00000-of-00001", "rb") as f:
        want = f.read()
    with mount(ckptfs_bin, mapping, tmp_path / "mnt", "-o", "layout=shards") as m:
        assert files_of(m.path)[name] == want
        cold = m.log()
        assert files_of(m.path)[name] == want   # opened again, now complete
        again = m.log()
    assert "passthrough (the kernel" not in cold, cold
    assert f"'{name}': passthrough (the kernel" in again, again
    with mount(ckptfs_bin, mapping, tmp_path / "mnt2", "-o", "layout=shards") as m:
        assert files_of(m.path)[name] == want
        assert f"'{name}': passthrough (the kernel" in m.log(), m.log()


def test_object_replaced_after_mounting(src, s3, ckptfs_bin, tf_registered, tmp_path,
                                        cache_dir, monkeypatch):
    """The data object is replaced after the mount pinned its version, by another
    checkpoint's (same size, other bytes, a new ETag): reads fail with EIO, and no read
    returns a byte of the new object. A new mount of the new version reads it right."""
    tf = tf_registered
    key = "replace/ckpt"
    url = s3.upload_checkpoint(src.wide, BUCKET, key)
    mapping = _wide_mapping(tmp_path, url)
    shard = ".data-00000-of-00001"
    with open(src.wide + shard, "rb") as f:
        old = f.read()
    with open(src.wide2 + shard, "rb") as f:
        new = f.read()
    assert len(old) == len(new) and old != new
    opts = timeout_opts(ckptfs_bin, monkeypatch)
    with mount(ckptfs_bin, mapping, tmp_path / "mnt", "-o", "layout=shards", *opts,
               expect_clean_log=False) as m:
        s3.put_file(BUCKET, key + shard, src.wide2 + shard)
        fd = os.open(m.join(PREFIX + shard), os.O_RDONLY)
        errors, step = 0, WIDE_ELEMS      # 4 reads a tensor
        try:
            for off in range(0, len(old), step):
                try:
                    b = os.pread(fd, step, off)
                except OSError as e:
                    assert e.errno == errno.EIO, e
                    errors += 1
                    continue
                assert b == old[off:off + len(b)], f"bytes at {off} are not the pinned version's"
        finally:
            os.close(fd)
        assert errors == len(range(0, len(old), step)), \
            f"only {errors} reads failed after the object was replaced"
        assert key + shard in m.log(), m.log()
    # the index of the new version too: a new mount (same cache) reads the new one
    s3.put_file(BUCKET, key + ".index", src.wide2 + ".index")
    with mount(ckptfs_bin, mapping, tmp_path / "mnt2") as m:
        assert_same_values(tf_values(tf, m.join(PREFIX)), src.wide2_values, "new version")


def test_server_killed_mid_read_then_restarted(src, s3, via_proxy, ckptfs_bin, tf_registered,
                                               tmp_path, monkeypatch):
    """The server dies while a reader is half-way through (the proxy throttles to 1 MB/s
    so that it is): the read fails with EIO within the timeout, the daemon stays up, and
    once the server is back the same mount reads everything right."""
    tf = tf_registered
    mapping = _wide_mapping(tmp_path, src.wide_url)
    with open(src.wide + ".data-00000-of-00001", "rb") as f:
        want = f.read()
    opts = timeout_opts(ckptfs_bin, monkeypatch)
    try:
        with mount(ckptfs_bin, mapping, tmp_path / "mnt", "-o", "layout=shards", *opts,
                   expect_clean_log=False) as m:
            data = m.join(f"{PREFIX}.data-00000-of-00001")
            via_proxy.set("pass", rate=1e6)
            reader = read_in_child(data, str(tmp_path / "part.bin"), chunk=128 << 10,
                                   start=True)
            # kill once the reader has a first part (and so is mid-way)
            part = tmp_path / "part.bin"
            deadline = time.monotonic() + 30
            while not (part.exists() and part.stat().st_size >= 256 << 10):
                assert reader.poll() is None, "the reader ended before the kill"
                assert time.monotonic() < deadline, "the reader made no progress"
                time.sleep(0.01)
            killed_at = time.monotonic()
            s3.kill()
            via_proxy.stop()
            r = finish_child(reader, timeout=FAIL_BOUND_S + 30)
            took = time.monotonic() - killed_at
            assert r["errno"] == errno.EIO, (r, m.log())
            assert 256 << 10 <= r["offset"] < len(want), r
            assert took <= FAIL_BOUND_S, f"the read failed {took:.1f}s after the kill"
            with open(tmp_path / "part.bin", "rb") as f:
                assert f.read() == want[:r["offset"]]
            assert m.alive() and os.listdir(m.path), m.log()
            # still down: a new read fails within the bound too
            t = time.monotonic()
            r = read_in_child(data, str(tmp_path / "down.bin"), timeout=FAIL_BOUND_S + 30)
            assert r["errno"] == errno.EIO and time.monotonic() - t <= FAIL_BOUND_S, r
            # back up: the same mount, no remount
            s3.start()
            via_proxy.start()
            via_proxy.set("pass")
            r = read_in_child(data, str(tmp_path / "all.bin"), timeout=60)
            assert r["errno"] == 0, (r, m.log())
            with open(tmp_path / "all.bin", "rb") as f:
                assert f.read() == want
            assert_same_values(tf_values(tf, m.join(PREFIX)), src.wide_values, "after restart")
    finally:
        s3.start()
        via_proxy.start()


@pytest.mark.parametrize("stall_after", [None, 1000], ids=["before-headers", "mid-body"])
def test_stalled_server_fails_within_the_timeout(stall_after, src, via_proxy, ckptfs_bin,
                                                 tf_registered, tmp_path, monkeypatch):
    tf = tf_registered
    mapping = _wide_mapping(tmp_path, src.wide_url)
    opts = timeout_opts(ckptfs_bin, monkeypatch)
    with mount(ckptfs_bin, mapping, tmp_path / "mnt", *opts, expect_clean_log=False) as m:
        data = m.join(f"{PREFIX}.data-00000-of-00001")
        via_proxy.set("stall", match=".data-", stall_after=stall_after)
        t = time.monotonic()
        r = read_in_child(data, str(tmp_path / "x.bin"), timeout=FAIL_BOUND_S + 30)
        took = time.monotonic() - t
        assert r["errno"] in (errno.EIO, errno.ETIMEDOUT), (r, m.log())
        assert took <= FAIL_BOUND_S, f"the stalled read failed after {took:.1f}s"
        assert m.alive()
        via_proxy.set("pass")
        try:
            got = tf_values(tf, m.join(PREFIX))
        except TFReadError as e:
            pytest.fail(f"after the stall: {e}\n{via_proxy.log[-15:]}\n{m.log()}")
        assert_same_values(got, src.wide_values, "after the stall")


# ---------------------------------------------------------------------------------------
# errors at the source line

def _check_error(ckptfs_bin, mapping: str, line: int = 1) -> str:
    r = mounting.run_cmd([ckptfs_bin, "check", mapping])
    assert r.rc == 1, r.describe()
    assert re.search(rf"^{re.escape(mapping)}:{line}:\d+: error: ", r.stderr, re.M), r.describe()
    return r.stderr


@pytest.mark.parametrize("which", ["secret", "access_key"])
def test_wrong_keys(which, src, s3, ckptfs_bin, tmp_path, cache_dir, monkeypatch):
    bad = "wrong-secret-DO-NOT-PRINT" if which == "secret" else "AKIAWRONGKEYID"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY" if which == "secret" else "AWS_ACCESS_KEY_ID",
                       bad)
    mapping = corpus_mapping(tmp_path / "m.conf", {"a": src.corpus_url["a"]})
    err = _check_error(ckptfs_bin, mapping)
    assert src.corpus_url["a"] in err, err
    assert re.search(r"403|SignatureDoesNotMatch|InvalidAccessKeyId", err), err
    if which == "secret":
        assert "SignatureDoesNotMatch" in err or "403" in err, err
    assert bad not in err or which == "access_key", err
    assert s3.secret_key not in err, err
    # the mount says the same and mounts nothing
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    try:
        r = mounting.run_cmd([ckptfs_bin, mapping, mnt])
        assert r.rc == 1 and not mounting.is_mounted(mnt), r.describe()
        assert src.corpus_url["a"] in r.stderr, r.describe()
    finally:
        mounting.force_unmount_all(mnt)


@pytest.mark.parametrize("what", ["prefix", "bucket", "data-shard"])
def test_missing_object(what, src, s3, ckptfs_bin, tmp_path, cache_dir):
    if what == "prefix":
        url = f"s3://{BUCKET}/corpus/no-such/variables"
        named = url
    elif what == "bucket":
        url = "s3://no-such-bucket/corpus/x/variables"
        named = url
    else:   # an index whose data shard is missing
        url = s3.upload_checkpoint(src.wide, BUCKET, "noshard/ckpt")
        os.unlink(s3.path(BUCKET, "noshard/ckpt.data-00000-of-00001"))
        named = url + ".data-00000-of-00001"
    mapping = write(tmp_path / "m.conf", f"# a comment\nsource s = {url}\nmap s:/ -> /\n")
    err = _check_error(ckptfs_bin, mapping, line=2)
    assert named in err, err
    assert re.search(r"\b404\b|NoSuchKey|NoSuchBucket", err), err


def test_odd_characters_in_keys(src, s3, ckptfs_bin, run_ckptfs, tf_registered, tmp_path,
                                cache_dir):
    """Keys with blanks, '+', '%', unicode and punctuation (percent-encoded in requests,
    signed as S3 wants)."""
    assert os.path.exists(s3.path(BUCKET, ODD_KEY_DIR + "/mo del+1%2F.index"))
    mapping = write(tmp_path / "m.conf", f"source s = {q(src.odd_url)}\nmap s:/ -> /\n")
    r = run_ckptfs("check", mapping)
    assert r.rc == 0 and src.odd_url in r.stdout.decode(), r.describe()
    r, rl = run_ckptfs("ls", src.odd_url), run_ckptfs("ls", src.tf1.prefix)
    assert r.rc == 0 and r.stdout == rl.stdout, r.describe()
    with mount(ckptfs_bin, mapping, tmp_path / "mnt") as m:
        assert_same_values(tfgen.tf1_restore_values(m.join(PREFIX)), src.tf1.expected, "odd")
    assert_same_values(tfgen.tf1_restore_values(uri(mapping, PREFIX)), src.tf1.expected,
                       "odd plugin")
    # over https: the URL percent-encoded, as the user writes it (mapping.md)
    mapping = write(tmp_path / "h.conf", f"source s = {src.odd_https}\nmap s:/ -> /\n")
    with mount(ckptfs_bin, mapping, tmp_path / "mnt-https") as m:
        assert_same_values(tfgen.tf1_restore_values(m.join(PREFIX)), src.tf1.expected,
                           "odd https")


@pytest.mark.parametrize("form", ["export", "variables"])
def test_savedmodel_from_s3(form, src, ckptfs_bin, tf_registered, tmp_path, cache_dir):
    """A SavedModel on S3: its export "directory" (variables/variables) and its
    variables/ "directory"."""
    tf = tf_registered
    url = src.sm_url + ("/variables" if form == "variables" else "")
    mapping = write(tmp_path / "m.conf", f"""\
        source s = {url}
        map s:/ -> /
        map s:{GRAPH_KEY} -> {GRAPH_KEY}
        """)
    want = tf_values(tf, src.sm.prefix)
    with mount(ckptfs_bin, mapping, tmp_path / "mnt") as m:
        assert_same_values(tf_values(tf, m.join(PREFIX)), want, form)


def test_mount_options_for_the_cache_and_the_timeout(src, via_proxy, ckptfs_bin, tf_registered,
                                                     tmp_path, monkeypatch):
    """-o cache_dir=, cache_size= and remote_timeout= (issue 20, items 4 and 7) instead of
    the environment: a stalled server fails a read within the option's timeout, and the
    cache files land in the option's directory."""
    monkeypatch.setenv("CKPTFS_CACHE_DIR", str(tmp_path / "env-cache"))
    monkeypatch.delenv("CKPTFS_REMOTE_TIMEOUT", raising=False)
    opt_cache = tmp_path / "opt-cache"
    mapping = _wide_mapping(tmp_path, src.wide_url)
    with mount(ckptfs_bin, mapping, tmp_path / "mnt", "-o",
               f"cache_dir={opt_cache},cache_size=64M,remote_timeout={TIMEOUT_S:g}",
               expect_clean_log=False) as m:
        via_proxy.set("stall", match=".data-")
        t = time.monotonic()
        r = read_in_child(m.join(f"{PREFIX}.data-00000-of-00001"), str(tmp_path / "x.bin"),
                          timeout=FAIL_BOUND_S + 60)
        took = time.monotonic() - t
        assert r["errno"] in (errno.EIO, errno.ETIMEDOUT), (r, m.log())
        assert took <= FAIL_BOUND_S, f"the stalled read failed after {took:.1f}s"
        via_proxy.set("pass")
        assert_same_values(tf_values(tf_registered, m.join(PREFIX), ["w0"]),
                           {"w0": src.wide_values["w0"]}, "w0")
        assert any(f.endswith(".data") for f in os.listdir(opt_cache)), os.listdir(opt_cache)
        assert not os.path.exists(tmp_path / "env-cache") or \
            not os.listdir(tmp_path / "env-cache"), os.listdir(tmp_path / "env-cache")
