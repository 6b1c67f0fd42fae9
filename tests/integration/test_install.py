"""Install and package: `cmake --install` lays out the files, `cpack -G DEB` makes a .deb
whose dependencies are the Debian packages of the libraries the binary links, and the
installed package mounts the way a person would: `mount -t fuse.ckptfs`, `mount -t
ckptfs`, an /etc/fstab line (docs/examples/fstab) and the mount a systemd unit
(docs/examples/mnt-merged.mount) makes, each restored by TensorFlow.

The package is built from this source tree (Release, no tests) in a temporary build
directory, installed with dpkg -i and removed with dpkg -r at the end, whatever happens;
/etc/fstab is restored byte for byte. The test refuses to run if a ckptfs package is
installed already (it would remove it). Needs root, as the rest of the suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from pylib import mounting
from pylib.mapfile import write_mapping

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"   # what mount(8) and systemd see
# Debian packages of the shared libraries ckptfs links, and fuse3 for mount.fuse3
RUNTIME_PACKAGES = {"fuse3", "libfuse3-3", "libprotobuf-c1", "libxxhash0", "libisal2",
                    "libsnappy1v5", "libc6", "libcurl4"}
PACKAGE_FILES = ["./usr/bin/ckptfs", "./usr/sbin/mount.ckptfs",
                 "./usr/share/man/man1/ckptfs.1.gz", "./usr/share/man/man8/mount.ckptfs.8.gz",
                 "./usr/share/doc/ckptfs/README.md", "./usr/share/doc/ckptfs/mapping.md",
                 "./usr/share/doc/ckptfs/mounting.md",
                 "./usr/share/doc/ckptfs/examples/fstab",
                 "./usr/share/doc/ckptfs/examples/mnt-merged.mount",
                 "./usr/share/doc/ckptfs/examples/merge.conf",
                 "./usr/lib/ckptfs/libckptfs_tf.so"]


def sh(argv, timeout=600, check=True, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=timeout, **kw)
    if check:
        assert p.returncode == 0, f"$ {' '.join(map(str, argv))}\n-> {p.returncode}\n" \
                                  f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def system_env() -> dict:
    return dict(os.environ, PATH=SYSTEM_PATH)


def package_installed(name: str) -> bool:
    p = sh(["dpkg-query", "-W", "-f=${Status}", name], check=False)
    return p.returncode == 0 and "install ok installed" in p.stdout


# ---------------------------------------------------------------------------------------
# build

@pytest.fixture(scope="module")
def build(tmp_path_factory) -> str:
    """A Release build of this tree, without tests, as the README's Install builds it."""
    b = str(tmp_path_factory.mktemp("pkg") / "build-deb")
    sh(["cmake", "-S", REPO, "-B", b, "-DCMAKE_BUILD_TYPE=Release",
        "-DCKPTFS_BUILD_TESTS=OFF", "-DCKPTFS_TF_PLUGIN=ON", f"-DCKPTFS_PYTHON={sys.executable}"])
    sh(["cmake", "--build", b, f"-j{os.cpu_count() or 2}"], timeout=1200)
    return b


@pytest.fixture(scope="module")
def deb(build) -> str:
    sh(["cpack", "-G", "DEB"], cwd=build)
    debs = [f for f in os.listdir(build) if f.endswith(".deb")]
    assert debs == [f"ckptfs_{version(build)}_amd64.deb"], debs
    return os.path.join(build, debs[0])


def version(build) -> str:
    return sh([os.path.join(build, "ckptfs"), "--version"]).stdout.split()[1]


@pytest.mark.parametrize("prefix, helper", [("/usr/local", "usr/local/sbin"),
                                            ("/usr", "usr/sbin")])
def test_cmake_install_layout(build, tmp_path, prefix, helper):
    stage = tmp_path / "stage"
    sh(["cmake", "--install", build, "--prefix", prefix], env=dict(os.environ, DESTDIR=str(stage)))
    root = str(stage) + prefix
    assert os.access(f"{root}/bin/ckptfs", os.X_OK)
    link = f"{stage}/{helper}/mount.ckptfs"
    assert os.readlink(link) == "../bin/ckptfs", os.readlink(link)
    for f in ("share/man/man1/ckptfs.1.gz", "share/man/man8/mount.ckptfs.8.gz",
              "share/doc/ckptfs/mapping.md", "share/doc/ckptfs/examples/fstab"):
        assert os.path.isfile(f"{root}/{f}"), f
    out = sh([link, "--version"]).stdout
    assert out.startswith("mount.ckptfs (ckptfs) "), out
    # the TensorFlow plugin, and the installed ckptfs names it (not the build tree's)
    plugin = f"{root}/lib/ckptfs/libckptfs_tf.so"
    assert os.path.isfile(plugin)
    assert sh([f"{root}/bin/ckptfs", "tf-plugin"]).stdout == plugin + "\n"
    manifest = open(os.path.join(build, "install_manifest.txt")).read().split()
    assert f"{stage}/{helper}/mount.ckptfs" in manifest, manifest


def libfuse_used(build: str) -> str:
    """'bundled' (the static libfuse 3.17 of scripts/build-libfuse) or 'system'."""
    cache = open(os.path.join(build, "CMakeCache.txt"), encoding="utf-8").read()
    m = re.search(r"^CKPTFS_LIBFUSE_USED:INTERNAL=(\w+)$", cache, re.M)
    assert m, "CMakeCache.txt does not say which libfuse the build links"
    return m.group(1)


def test_deb_contents_and_dependencies(deb, build):
    files = sh(["dpkg-deb", "-c", deb]).stdout
    listed = {ln.split()[5] for ln in files.splitlines()}
    missing = [f for f in PACKAGE_FILES if f not in listed]
    assert not missing, f"not in the package: {missing}\n{files}"
    assert re.search(r"\./usr/sbin/mount\.ckptfs -> \.\./bin/ckptfs$", files, re.M), files
    assert not any("/local/" in f for f in listed), files

    depends = sh(["dpkg-deb", "-f", deb, "Depends"]).stdout
    names = {d.split()[0] for d in depends.strip().split(", ")}
    runtime = RUNTIME_PACKAGES
    if libfuse_used(build) == "bundled":   # libfuse 3.17 linked statically
        runtime = RUNTIME_PACKAGES - {"libfuse3-3"}
    assert names == runtime, depends
    # ... which are the packages of the libraries the binary names (NEEDED)
    binary = os.path.join(build, "ckptfs")
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                        sh(["readelf", "-d", binary]).stdout)
    ldd = dict(re.findall(r"^\s*(\S+) => (\S+)", sh(["ldd", binary]).stdout, re.M))
    owners = set()
    for lib in needed:
        path = os.path.realpath(ldd[lib])
        p = sh(["dpkg", "-S", path], check=False)
        if p.returncode:   # merged /usr: dpkg knows the /lib spelling
            p = sh(["dpkg", "-S", ldd[lib]])
        owners.add(p.stdout.split(":")[0])
    assert owners == runtime - {"fuse3"}, (owners, needed)
    assert sh(["dpkg-deb", "-f", deb, "Package"]).stdout.strip() == "ckptfs"


# ---------------------------------------------------------------------------------------
# the installed package

@pytest.fixture(scope="module")
def installed(deb):
    if package_installed("ckptfs"):
        pytest.fail("a ckptfs package is installed already: this test installs its own "
                    "and removes it afterwards; run 'dpkg -r ckptfs' first", pytrace=False)
    try:
        sh(["dpkg", "-i", deb])
        yield deb
    finally:
        if package_installed("ckptfs"):
            sh(["dpkg", "-r", "ckptfs"], check=False)
    assert not package_installed("ckptfs"), "dpkg -r ckptfs failed"
    for f in PACKAGE_FILES:
        assert not os.path.lexists(f[1:]), f"{f[1:]} left behind by dpkg -r"


@pytest.fixture(scope="module")
def tf1_models() -> str:
    """Two TF1 models (a = 3 in one, b = 4 in the other) and merge.conf merging them.

    In a directory every user may enter (pytest's are 0700): the allow_other mounts
    below open only sources every user could read."""
    import tensorflow as tf
    tf1 = tf.compat.v1

    with mounting.public_tmpdir("ckptfs-install-") as d:
        for name, value in (("a", 3.0), ("b", 4.0)):
            with tf.Graph().as_default():
                tf1.get_variable(name, initializer=tf.constant(value))
                with tf1.Session() as sess:
                    sess.run(tf1.global_variables_initializer())
                    tf1.train.Saver().save(sess, f"{d}/model_{name}/model-{name}")
        write_mapping(f"{d}/merge.conf", {"a": f"{d}/model_a/model-a", "b": f"{d}/model_b"},
                      ["map a:a -> a", "map b:b -> b"])
        yield d


def tf_restore(mnt: str) -> list[float]:
    """What a TF1 trainer restores from the mount: [a, b]."""
    import tensorflow as tf
    tf1 = tf.compat.v1

    prefix = tf.train.latest_checkpoint(mnt)
    assert prefix == f"{mnt}/model.ckpt", prefix
    with tf.Graph().as_default():
        a = tf1.get_variable("a", shape=[])
        b = tf1.get_variable("b", shape=[])
        with tf1.Session() as sess:
            tf1.train.Saver().restore(sess, prefix)
            return [float(v) for v in sess.run([a, b])]


def fstype_at(mnt: str) -> str | None:
    for _src, where, fstype in mounting.mount_table():
        if where == os.path.realpath(mnt):
            return fstype
    return None


def umount(mnt: str):
    """umount(8), as a person would; the daemon then exits by itself."""
    sh(["umount", mnt], env=system_env())
    assert fstype_at(mnt) is None, f"{mnt} still mounted after umount"


def force_unmount(mnt: str):
    if mounting.is_mounted(mnt):
        sh(["umount", "-l", mnt], check=False)


def mount_and_restore(argv: list, mnt: str, options: str = ""):
    """Run a mount command (PATH as mount(8) has it), restore from it, unmount."""
    os.makedirs(mnt, exist_ok=True)
    try:
        sh(argv, env=system_env(), timeout=120)
        assert fstype_at(mnt) == "fuse.ckptfs", mounting.mount_table()
        assert sorted(os.listdir(mnt)) == ["checkpoint", "model.ckpt.data-00000-of-00001",
                                           "model.ckpt.index"], os.listdir(mnt)
        assert tf_restore(mnt) == [3.0, 4.0]
        line = [ln for ln in open("/proc/self/mounts") if f" {mnt} " in ln][0]
        assert " ro," in line, line
        for opt in filter(None, options.split(",")):
            if opt == "allow_other":
                assert "allow_other" in line, line
        umount(mnt)
    finally:
        force_unmount(mnt)


def test_installed_commands_and_man_pages(installed):
    env = system_env()
    out = sh(["ckptfs", "--version"], env=env).stdout
    assert shutil.which("ckptfs", path=SYSTEM_PATH) == "/usr/bin/ckptfs"
    assert out.startswith("ckptfs "), out
    helper = sh(["/sbin/mount.ckptfs", "--version"], env=env).stdout
    assert helper.startswith("mount.ckptfs (ckptfs) " + out.split()[1]), helper
    assert sh(["ckptfs", "tf-plugin"], env=env).stdout == "/usr/lib/ckptfs/libckptfs_tf.so\n"
    for page, sect in (("ckptfs", "1"), ("mount.ckptfs", "8")):
        where = sh(["man", "-w", sect, page], env=env).stdout.strip()
        assert where == f"/usr/share/man/man{sect}/{page}.{sect}.gz", where
        text = sh(["man", sect, page], env=dict(env, MANWIDTH="80")).stdout
        assert "SYNOPSIS" in text and "OPTIONS" in text, text[:2000]


def test_mount_t_fuse_ckptfs(installed, tf1_models, tmp_path):
    """mount(8) runs mount.fuse3, which runs `ckptfs` from PATH."""
    mnt = str(tmp_path / "mnt")
    mount_and_restore(["mount", "-t", "fuse.ckptfs", f"{tf1_models}/merge.conf", mnt], mnt)


def test_mount_t_ckptfs(installed, tf1_models, tmp_path):
    """mount(8) runs /sbin/mount.ckptfs itself."""
    mnt = str(tmp_path / "mnt")
    mount_and_restore(["mount", "-t", "ckptfs", "-o", "allow_other",
                       f"{tf1_models}/merge.conf", mnt], mnt, "allow_other")


def example_fstab_line(mapping: str, mnt: str) -> tuple[str, str]:
    """docs/examples/fstab's line, for our mapping and mountpoint; and its options."""
    path = os.path.join(REPO, "docs", "examples", "fstab")
    fields = [ln.split() for ln in open(path) if ln.strip() and not ln.startswith("#")][0]
    fields[0], fields[1] = mapping, mnt
    return " ".join(fields) + "\n", fields[3]


def test_fstab_line(installed, tf1_models, tmp_path):
    """`mount DIR` with the docs' fstab line; /etc/fstab is restored afterwards."""
    mnt = str(tmp_path / "mnt")
    line, options = example_fstab_line(f"{tf1_models}/merge.conf", mnt)
    with open("/etc/fstab", "rb") as f:
        saved = f.read()
    try:
        with open("/etc/fstab", "ab") as f:
            f.write(b"\n" + line.encode())
        mount_and_restore(["mount", mnt], mnt, options)
    finally:
        with open("/etc/fstab", "wb") as f:
            f.write(saved)
    with open("/etc/fstab", "rb") as f:
        assert f.read() == saved, "/etc/fstab not restored"


def test_systemd_unit(installed, tf1_models, tmp_path):
    """The docs' unit, for our paths: systemd-analyze accepts it, and the mount command
    systemd runs for it (mount What Where -t Type -o Options) works."""
    mnt = str(tmp_path / "mnt")
    os.makedirs(mnt)
    text = open(os.path.join(REPO, "docs", "examples", "mnt-merged.mount")).read()
    text = re.sub(r"^What=.*$", f"What={tf1_models}/merge.conf", text, flags=re.M)
    text = re.sub(r"^Where=.*$", f"Where={mnt}", text, flags=re.M)
    text = re.sub(r"^RequiresMountsFor=.*$", f"RequiresMountsFor={tf1_models}", text,
                  flags=re.M)
    name = sh(["systemd-escape", "-p", "--suffix=mount", mnt]).stdout.strip()
    unit = tmp_path / "units" / name
    unit.parent.mkdir()
    unit.write_text(text)
    p = sh(["systemd-analyze", "verify", unit], check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    keys = dict(re.findall(r"^(What|Where|Type|Options)=(.*)$", text, re.M))
    mount_and_restore(["mount", keys["What"], keys["Where"], "-t", keys["Type"],
                       "-o", keys["Options"]], mnt, keys["Options"])


def test_bad_mapping_fails_mount_8_clearly(installed, tmp_path):
    """A broken mapping: mount(8) exits non-zero, the message names the line, nothing is
    mounted."""
    mnt = str(tmp_path / "mnt")
    os.makedirs(mnt)
    conf = tmp_path / "bad.conf"
    conf.write_text("source a = nowhere/model\nmap a:/ -> /\n")
    try:
        p = sh(["mount", "-t", "fuse.ckptfs", conf, mnt], env=system_env(), check=False)
        assert p.returncode != 0, p
        assert f"{conf}:1:12: error: source 'a':" in p.stderr, p.stderr
        assert fstype_at(mnt) is None
    finally:
        force_unmount(mnt)
