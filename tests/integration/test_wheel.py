"""The Python wheel (pyproject.toml, scripts/wheel): what `pip install ckptfs` gives.

The wheel is built once per session by scripts/wheel (or taken from $CKPTFS_WHEEL) and
installed twice: into a fresh venv of the system's Python, which has no TensorFlow (the
command, `python -m ckptfs`, check, ls, materialize, and register_tensorflow's error), and
with `pip install --target` into a directory the TensorFlow venvs import it from: an
unprivileged user (uid 65534) without /dev/fuse reads a merge through ckptfs.uri() equal to
its sources, root mounts and unmounts with ckptfs.mount(), and the same plugin loads into
TensorFlow 2.21 (.venv) and 2.20 (.venv-tf2.20, made by scripts/setup-venv). Also: the
plugin's undefined symbols (TensorFlow's C API only), the README's Python API block, and
`pip install .` from the clone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile

import pytest

from pylib import ckptfmt as F
from pylib import mounting
from pylib.testenv import REPO

TIMEOUT = 300
VENV_TF220 = os.environ.get("CKPTFS_VENV_TF220", os.path.join(REPO, ".venv-tf2.20"))
NOBODY = 65534


def project_version() -> str:
    with open(os.path.join(REPO, "CMakeLists.txt"), encoding="utf-8") as f:
        return re.search(r"project\(ckptfs VERSION ([0-9.]+)", f.read())[1]


def run(argv: list, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)


def describe(p: subprocess.CompletedProcess) -> str:
    return f"{p.args}: exit {p.returncode}\nstdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}"


# ---------------------------------------------------------------------------------------
# the wheel (built once a session: the fixtures wheel, wheel_dir and wheel_site are
# in conftest.py, test_docs.py runs the README tutorial with it too)

@pytest.fixture(scope="session")
def bare_venv(wheel, wheel_dir) -> str:
    """A fresh venv of the system's Python, no TensorFlow, the wheel installed offline."""
    venv = os.path.join(wheel_dir, "venv")
    p = run([shutil.which("python3") or "/usr/bin/python3", "-m", "venv", venv])
    assert p.returncode == 0, describe(p)
    p = run([f"{venv}/bin/pip", "install", "-q", "--disable-pip-version-check",
             "--no-index", wheel])
    assert p.returncode == 0, describe(p)
    q = run([f"{venv}/bin/python", "-c", "import tensorflow"])
    assert q.returncode != 0, "the bare venv must not have TensorFlow"
    return venv


def python_with(site_dir: str, python: str, body: str, *argv: str, wrap=(),
                env=None) -> subprocess.CompletedProcess:
    e = dict(os.environ, PYTHONPATH=site_dir, TF_CPP_MIN_LOG_LEVEL="3", HOME="/tmp",
             **(env or {}))
    return run([*wrap, python, "-c", textwrap.dedent(body), *argv], env=e)


# ---------------------------------------------------------------------------------------
# sources: written byte by byte (no TensorFlow needed), one name not UTF-8

class RawKey(str):
    """A key whose bytes are not UTF-8 (pylib's write_bundle encodes keys with .encode())."""

    def __new__(cls, raw: bytes):
        k = super().__new__(cls, raw.decode("utf-8", "surrogateescape"))
        k.raw = raw
        return k

    def encode(self, *a, **kw) -> bytes:  # noqa: ARG002
        return self.raw


ODD = b'odd/\xff"quote\\ \nline'


def floats(*v: float) -> bytes:
    return struct.pack(f"<{len(v)}f", *v)


@pytest.fixture(scope="session")
def merge(wheel_dir) -> str:
    """merge.conf over two sources in wheel_dir; a keeps everything, b one scope."""
    src = os.path.join(wheel_dir, "src")
    os.makedirs(os.path.join(src, "a"))
    os.makedirs(os.path.join(src, "b"))
    F.write_bundle(os.path.join(src, "a", "ckpt"), [
        F.Tensor("enc/w", F.DT_FLOAT, [2, 2], floats(1, 2, 3, 4)),
        F.Tensor("step", F.DT_INT64, [], struct.pack("<q", 7)),
        F.Tensor(RawKey(ODD), F.DT_FLOAT, [1], floats(9)),
    ])
    F.write_bundle(os.path.join(src, "b", "ckpt"), [
        F.Tensor("dec/w", F.DT_FLOAT, [3], floats(5, 6, 7)),
        F.Tensor("dec/b", F.DT_FLOAT, [], floats(8)),
        F.Tensor("other", F.DT_FLOAT, [], floats(0)),
    ])
    path = os.path.join(src, "merge.conf")
    with open(path, "w", encoding="utf-8") as f:
        f.write("source a = a/ckpt\nsource b = b/ckpt\nmap a:/ -> /\nmap b:dec/ -> decoder/\n")
    for root, dirs, files in os.walk(src):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)
    return path


EXPECTED = {  # merged name -> (dtype, shape, source, source name)
    "decoder/b": ("float32", [], "b", "dec/b"),
    "decoder/w": ("float32", [3], "b", "dec/w"),
    "enc/w": ("float32", [2, 2], "a", "enc/w"),
    ODD.decode("utf-8", "surrogateescape"): ("float32", [1], "a",
                                             ODD.decode("utf-8", "surrogateescape")),
    "step": ("int64", [], "a", "step"),
}


# ---------------------------------------------------------------------------------------
# the wheel itself

def test_wheel_is_manylinux_py3_and_holds_command_plugin_package(wheel):
    name = os.path.basename(wheel)
    assert re.fullmatch(rf"ckptfs-{re.escape(project_version())}-py3-none-"
                        r"manylinux_2_\d+_x86_64\.whl", name), name
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = z.read(f"ckptfs-{project_version()}.dist-info/entry_points.txt").decode()
    for f in ("ckptfs/_native/ckptfs", "ckptfs/_native/libckptfs_tf.so", "ckptfs/py.typed",
              "ckptfs/__init__.py", "ckptfs/__main__.py"):
        assert f in names, f"{f} missing from {name}"
    vendored = [n for n in names if n.startswith("ckptfs.libs/")]
    assert any("libcurl" in n for n in vendored), vendored
    assert not any("fuse" in n for n in vendored), f"libfuse is linked statically: {vendored}"
    assert re.search(r"^ckptfs = ckptfs.__main__:main$", entry_points, re.M), entry_points
    # auditwheel's own verdict (from the build venv scripts/wheel makes)
    venv = os.path.join(REPO, "build-wheel", "venv", "bin")
    p = run([os.path.join(venv, "auditwheel"), "show", wheel],
            env=dict(os.environ, PATH=f"{venv}:{os.environ['PATH']}"))
    assert p.returncode == 0, describe(p)
    assert re.search(r'consistent with the\s+following platform tag:\s+"manylinux_2_\d+_x86_64"',
                     p.stdout), p.stdout


def undefined_symbols(lib: str) -> list[str]:
    p = run(["nm", "-D", "--undefined-only", lib])
    assert p.returncode == 0, describe(p)
    return [line.split()[-1].split("@")[0] for line in p.stdout.splitlines() if line.strip()]


def needed(lib: str) -> list[str]:
    p = run(["readelf", "-d", lib])
    assert p.returncode == 0, describe(p)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", p.stdout)


@pytest.mark.parametrize("which", ["build", "wheel"])
def test_plugin_needs_only_tensorflows_c_symbols(which, wheel, plugin_path, tmp_path):
    """No TensorFlow C++ symbol (nor any C++ at all) and no TensorFlow library: the one
    plugin loads into every TensorFlow that has the C filesystem interface."""
    lib = plugin_path
    if which == "wheel":
        with zipfile.ZipFile(wheel) as z:
            lib = z.extract("ckptfs/_native/libckptfs_tf.so", tmp_path)
    syms = undefined_symbols(lib)
    cxx = [s for s in syms if s.startswith("_Z")]
    assert not cxx, f"C++ symbols needed by {lib}: {cxx[:20]}"
    tf = sorted(s for s in syms if s.startswith("TF_"))
    assert tf, f"{lib} takes no TF_* symbol from TensorFlow: {syms}"
    assert not [s for s in syms if "tensorflow" in s.lower() or s.startswith("tsl")], syms
    libs = needed(lib)
    assert not [n for n in libs if "tensorflow" in n or "stdc++" in n], libs


# ---------------------------------------------------------------------------------------
# a fresh venv without TensorFlow

def test_bare_venv_command_and_module(bare_venv):
    for argv in ([f"{bare_venv}/bin/ckptfs", "--version"],
                 [f"{bare_venv}/bin/python", "-m", "ckptfs", "--version"]):
        p = run(argv)
        assert p.returncode == 0, describe(p)
        assert p.stdout.startswith(f"ckptfs {project_version()}"), p.stdout
    p = run([f"{bare_venv}/bin/ckptfs", "tf-plugin"])
    assert p.returncode == 0, describe(p)
    assert p.stdout.strip().startswith(bare_venv + "/lib/"), p.stdout
    p = run([f"{bare_venv}/bin/python", "-c",
             "import ckptfs; print(ckptfs.__version__); print(ckptfs.tf_plugin())"])
    assert p.returncode == 0, describe(p)
    version, plugin = p.stdout.split()
    assert version == project_version()
    assert plugin == run([f"{bare_venv}/bin/ckptfs", "tf-plugin"]).stdout.strip()


def test_bare_venv_check_ls_materialize(bare_venv, merge, tmp_path):
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "m.ckpt"
    p = run([f"{bare_venv}/bin/python", "-c", textwrap.dedent("""
        import json, os, sys, ckptfs
        mapping, out = sys.argv[1:]
        c = ckptfs.check(mapping)
        t = ckptfs.ls(mapping)
        ckptfs.materialize(mapping, out)
        m = ckptfs.ls(out)
        print(json.dumps({
            "check": [c.prefix, c.layout, c.tensors, c.data_bytes,
                      [(s.name, s.tensors) for s in c.sources],
                      sorted(f.kind for f in c.files)],
            "uri": ckptfs.uri(mapping),
            "ls": [[x.name, x.dtype, list(x.shape), x.source, x.source_name] for x in t],
            "odd": [x.name_bytes.hex() for x in t if x.name.startswith("odd")],
            "materialized": [[x.name, x.dtype, list(x.shape), x.source] for x in m]}))
        """), merge, str(out)])
    assert p.returncode == 0, describe(p)
    d = json.loads(p.stdout)
    assert d["check"] == ["model.ckpt", "single", 5, 4 * (4 + 1 + 3 + 1) + 8,
                          [["a", 3], ["b", 2]], ["checkpoint", "data", "index"]]
    assert d["uri"] == "ckptfs://" + os.path.abspath(merge) + "/model.ckpt"
    assert {x[0]: tuple(x[1:]) for x in d["ls"]} == EXPECTED
    assert d["odd"] == [ODD.hex()], "a name that is not UTF-8 comes back byte for byte"
    assert {x[0]: (x[1], x[2]) for x in d["materialized"]} == {
        k: v[:2] for k, v in EXPECTED.items()}
    assert all(x[3] is None for x in d["materialized"])


def test_bare_venv_errors(bare_venv, merge, tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text(f"source a = {os.path.dirname(merge)}/a/ckpt\nmap a:enc/W -> x\n")
    p = run([f"{bare_venv}/bin/python", "-c", textwrap.dedent("""
        import json, sys, ckptfs
        out = {}
        try:
            ckptfs.check(sys.argv[1])
        except ckptfs.MappingError as e:
            out["check"] = [e.file, e.line, e.column, e.message, str(e)]
        try:
            ckptfs.ls(sys.argv[1])
        except ckptfs.MappingError as e:
            out["ls"] = [e.file, e.line, e.column, e.message]
        try:
            ckptfs.ls(sys.argv[1] + ".missing")
        except ckptfs.CkptfsError as e:
            out["missing"] = [type(e).__name__, str(e)]
        try:
            ckptfs.register_tensorflow()
        except ckptfs.TensorFlowError as e:
            out["tf"] = [isinstance(e, ImportError), str(e)]
        print(json.dumps(out))
        """), str(bad)])
    assert p.returncode == 0, describe(p)
    d = json.loads(p.stdout)
    message = "source 'a' has no tensor 'enc/W' (did you mean 'enc/w' or 'enc/'?)"
    assert d["check"] == [str(bad), 2, 5, message, f"{bad}:2:5: error: {message}"]
    assert d["ls"] == [str(bad), 2, 5, message]
    assert d["missing"][0] == "CkptfsError" and ".missing" in d["missing"][1], d
    assert d["tf"][0] is True and "needs TensorFlow" in d["tf"][1], d


# ---------------------------------------------------------------------------------------
# with TensorFlow

READ_ALL = """
import os, sys, numpy as np, tensorflow as tf, ckptfs
mapping = sys.argv[1]
ckptfs.register_tensorflow()
ckptfs.register_tensorflow()  # once: a second call does nothing
merged = tf.train.load_checkpoint(ckptfs.uri(mapping))
srcdir = os.path.dirname(mapping)
sources = {s: tf.train.load_checkpoint(os.path.join(srcdir, s, "ckpt")) for s in "ab"}
n = 0
for t in ckptfs.ls(mapping):
    # bytes: TensorFlow's Python encodes a str name as strict UTF-8
    got = merged.get_tensor(t.name_bytes)
    want = sources[t.source].get_tensor(t.source_name.encode("utf-8", "surrogateescape"))
    assert np.array_equal(got, want), (t.name, got, want)
    n += 1
print(tf.__version__, n, os.getuid())
"""


def test_unprivileged_user_reads_merge_through_uri(wheel_site, merge, tmp_path):
    """uid 65534, and /dev/fuse replaced by /dev/null in a mount namespace: no FUSE,
    still the plugin serves the merge, equal to its sources."""
    script = tmp_path / "nofuse.sh"
    script.write_text("set -e\nmount --make-rprivate /\nmount --bind /dev/null /dev/fuse\n"
                      f"exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups \"$@\"\n")
    py = os.path.join(os.environ.get("CKPTFS_VENV", os.path.join(REPO, ".venv")), "bin", "python")
    body = ("import os\nst = os.stat('/dev/fuse')\n"
            "assert (os.major(st.st_rdev), os.minor(st.st_rdev)) != (10, 229), 'FUSE is there'\n"
            + READ_ALL)
    p = python_with(wheel_site, py, body, merge, wrap=["unshare", "--mount", "sh", str(script)])
    assert p.returncode == 0, describe(p)
    version, n, uid = p.stdout.split()[-3:]
    assert (n, uid) == (str(len(EXPECTED)), str(NOBODY)), p.stdout


def test_plugin_loads_into_tensorflow_2_20(wheel_site, merge):
    py = os.path.join(VENV_TF220, "bin", "python")
    assert os.access(py, os.X_OK), f"no TensorFlow 2.20 venv at {VENV_TF220}: scripts/setup-venv"
    p = python_with(wheel_site, py, READ_ALL, merge)
    assert p.returncode == 0, describe(p)
    version, n, _ = p.stdout.split()[-3:]
    assert version.startswith("2.20.") and n == str(len(EXPECTED)), p.stdout


def test_mount_as_root_mounts_and_unmounts(wheel_site, merge, wheel_dir):
    mnt = os.path.join(wheel_dir, "mnt")
    os.makedirs(mnt, exist_ok=True)
    py = os.path.join(os.environ.get("CKPTFS_VENV", os.path.join(REPO, ".venv")), "bin", "python")
    p = python_with(wheel_site, py, """
        import json, os, sys, numpy as np, tensorflow as tf, ckptfs
        mapping, mnt = sys.argv[1:]
        out = {}
        with ckptfs.mount(mapping, mnt) as m:
            out["mounted"] = os.path.ismount(mnt)
            out["files"] = sorted(os.listdir(mnt))
            r = tf.train.load_checkpoint(m.checkpoint)
            out["w"] = r.get_tensor("decoder/w").tolist()
        # r still holds the merged files open: the mountpoint is freed all the same
        out["after"] = os.path.ismount(mnt)
        try:
            with ckptfs.mount(mapping, mnt, layout="shards"):
                out["shards"] = sorted(os.listdir(mnt))
                raise KeyError("inside")
        except KeyError:
            out["after_exception"] = os.path.ismount(mnt)
        bad = os.path.join(os.path.dirname(mnt), "bad.conf")
        with open(bad, "w") as f:
            f.write("source a = nowhere\\nmap a:x -> x\\n")
        try:
            with ckptfs.mount(bad, mnt):
                pass
        except ckptfs.MappingError as e:
            out["bad"] = [e.line, os.path.ismount(mnt)]
        # a mapping file named like a subcommand is still a mapping to mount
        os.chdir(os.path.dirname(mapping))
        with open(os.path.basename(mapping)) as f, open("ls", "w") as g:
            g.write(f.read())
        with ckptfs.mount("ls", mnt):
            out["named_ls"] = os.path.ismount(mnt)
        print(json.dumps(out))
        """, merge, mnt)
    mounting.force_unmount_all(mnt)
    assert p.returncode == 0, describe(p)
    d = json.loads(p.stdout.splitlines()[-1])
    assert d["mounted"] is True and d["after"] is False, d
    assert d["files"] == ["checkpoint", "model.ckpt.data-00000-of-00001", "model.ckpt.index"]
    assert d["w"] == [5.0, 6.0, 7.0]
    assert len(d["shards"]) == 4 and d["after_exception"] is False, d
    assert d["bad"] == [1, False], d
    assert d["named_ls"] is True, d


def readme_python_api_block() -> str:
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("\n## Python API\n"):]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]


def test_readme_python_api_runs_as_written(wheel_site, wheel_dir):
    """The README's Python API block, on the tutorial's two models (a = 3, b = 4): each
    print's output is the comment on its line."""
    work = os.path.join(wheel_dir, "readme")
    ckpts = os.path.join(work, "ckpts")
    for name, value in (("a", 3.0), ("b", 4.0)):
        os.makedirs(os.path.join(ckpts, f"model_{name}"))
        F.write_bundle(os.path.join(ckpts, f"model_{name}", f"model-{name}"),
                       [F.Tensor(name, F.DT_FLOAT, [], floats(value))])
    with open(os.path.join(ckpts, "merge.conf"), "w", encoding="utf-8") as f:
        f.write("source a = model_a/model-a\nsource b = model_b/model-b\n"
                "map a:a -> a\nmap b:b -> b\n")
    os.mkdir(os.path.join(work, "merged"))
    block = readme_python_api_block()
    want = [line.split("# ", 1)[1].strip() for line in block.splitlines()
            if line.lstrip().startswith("print(") and "# " in line]
    py = os.path.join(os.environ.get("CKPTFS_VENV", os.path.join(REPO, ".venv")), "bin", "python")
    p = run([py, "-c", block], cwd=work,
            env=dict(os.environ, PYTHONPATH=wheel_site, TF_CPP_MIN_LOG_LEVEL="3"))
    mounting.force_unmount_all(os.path.join(work, "merged"))
    assert p.returncode == 0, describe(p)
    assert p.stdout.strip().splitlines() == want, describe(p)
    assert not mounting.is_mounted(os.path.join(work, "merged"))


def test_pip_install_source_tree(wheel_dir):
    """`pip install .` from the clone (pip's build isolation fetches scikit-build-core):
    the same command and plugin, in a venv of the system's Python."""
    venv = os.path.join(wheel_dir, "venv-src")
    p = run([shutil.which("python3") or "/usr/bin/python3", "-m", "venv", venv])
    assert p.returncode == 0, describe(p)
    p = run([f"{venv}/bin/pip", "install", "-q", "--disable-pip-version-check", REPO],
            timeout=1800)
    assert p.returncode == 0, describe(p)
    p = run([f"{venv}/bin/ckptfs", "--version"])
    assert p.returncode == 0 and p.stdout.startswith(f"ckptfs {project_version()}"), describe(p)
    p = run([f"{venv}/bin/ckptfs", "tf-plugin"])
    path = p.stdout.strip()
    assert p.returncode == 0 and path.startswith(venv + "/lib/"), describe(p)
    assert path.endswith("/site-packages/ckptfs/_native/libckptfs_tf.so"), path


@pytest.mark.parametrize("fake, error", [
    ("__version__ = '2.15.1'\n",
     "the ckptfs plugin needs TensorFlow 2.20 or later (tested with 2.20, 2.21), not 2.15.1"),
    ("__version__ = '2.22.0'\n"
     "class _E:\n"
     "    @staticmethod\n"
     "    def register_filesystem_plugin(path):\n"
     "        raise RuntimeError('undefined symbol: TF_Frobnicate')\n"
     "experimental = _E()\n",
     "TensorFlow 2.22.0 refused the ckptfs plugin "),
])
def test_register_tensorflow_says_why_not(bare_venv, tmp_path, fake, error):
    """A TensorFlow too old, or one that refuses the plugin (a stand-in module in the
    venv without TensorFlow): TensorFlowError says which and why."""
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(fake)
    p = run([f"{bare_venv}/bin/python", "-c", textwrap.dedent("""
        import ckptfs
        try:
            ckptfs.register_tensorflow()
        except ckptfs.TensorFlowError as e:
            print(e)
        """)], env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert p.returncode == 0, describe(p)
    assert p.stdout.startswith(error), p.stdout
    if "refused" in error:
        assert "TF_Frobnicate" in p.stdout
