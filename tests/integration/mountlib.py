"""Mount a ckptfs daemon for a test and always clean up after it.

Modelled on libfuse's test/cases/lib/common.sh: the daemon runs in the foreground
(``ckptfs MAPPING MNT -f``) with its stderr in a log file, ``mounted()`` polls until
the path is a mountpoint (failing early, with the log, if the daemon died), and the
``finally`` clause always unmounts (``fusermount3 -u``, then ``-u -z``, then kills the
daemon) so a failing test never leaks a mount.  On a normal exit it checks that the
daemon ended with status 0 after being unmounted.

Environment: EXEC_PREFIX (as in conftest.py) is put before the daemon's command line,
e.g. "valgrind -q --error-exitcode=99".
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
import time

MOUNT_TIMEOUT = 30.0   # seconds for the daemon to mount (valgrind is slow)
EXIT_TIMEOUT = 30.0    # seconds for the daemon to exit once unmounted


def mount_table() -> list[tuple[str, str, str]]:
    """(source, mountpoint, fstype) of every mount this process sees."""
    out = []
    with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3:
                # /proc/mounts escapes blanks and backslashes in octal
                mnt = fields[1].encode().decode("unicode_escape")
                out.append((fields[0], mnt, fields[2]))
    return out


def is_mounted(path: str) -> bool:
    path = os.path.realpath(path)
    return any(mnt == path for _src, mnt, _type in mount_table())


def read_log(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def fusermount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["fusermount3", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


class Mount:
    """A running ckptfs daemon and its mountpoint."""

    def __init__(self, proc: subprocess.Popen, mountpoint: str, log_path: str, argv: list):
        self.proc = proc
        self.path = mountpoint
        self.log_path = log_path
        self.argv = argv

    def log(self) -> str:
        return read_log(self.log_path)

    def describe(self) -> str:
        return f"$ {shlex.join(self.argv)}\n--- daemon log ---\n{self.log()}"

    def join(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"daemon still running {timeout}s after it should have "
                                 f"ended\n{self.describe()}") from None

    def unmount(self) -> int:
        """fusermount3 -u, then the daemon's exit status."""
        r = fusermount("-u", self.path)
        assert r.returncode == 0, f"fusermount3 -u failed: {r.stderr}\n{self.describe()}"
        return self.wait_exit()

    def signal(self, sig: int = signal.SIGTERM) -> int:
        """Send sig to the daemon, then its exit status."""
        self.proc.send_signal(sig)
        return self.wait_exit()


def wait_until_mounted(proc: subprocess.Popen, mountpoint: str, log_path: str, argv: list,
                       timeout: float = MOUNT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not os.path.ismount(mountpoint):
        rc = proc.poll()
        if rc is not None:
            raise AssertionError(f"daemon exited with status {rc} before mounting\n"
                                 f"$ {shlex.join(argv)}\n--- daemon log ---\n{read_log(log_path)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not mounted after {timeout}s\n$ {shlex.join(argv)}\n"
                                 f"--- daemon log ---\n{read_log(log_path)}")
        time.sleep(0.02)


def _force_cleanup(proc: subprocess.Popen, mountpoint: str):
    """Whatever state the test left: no mount and no daemon afterwards."""
    if is_mounted(mountpoint):
        fusermount("-u", mountpoint)
    if is_mounted(mountpoint):
        fusermount("-u", "-z", mountpoint)
    if proc.poll() is None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def mounted(ckptfs_bin: str, mapping: str, mountpoint: str, *options: str,
            log_path: str | None = None, expect_clean_log: bool = True):
    """Run ``ckptfs MAPPING MOUNTPOINT -f OPTIONS...`` and yield a Mount once mounted.

    Leaving the block normally unmounts with fusermount3 -u (unless the test already
    ended the daemon) and asserts that the daemon exited 0 and, if expect_clean_log,
    that its log mentions no error or warning.  Any exit cleans up by force.
    """
    os.makedirs(mountpoint, exist_ok=True)
    log_path = log_path or os.path.join(os.path.dirname(os.path.abspath(mountpoint)),
                                        os.path.basename(mountpoint) + ".log")
    argv = (shlex.split(os.environ.get("EXEC_PREFIX", ""))
            + [ckptfs_bin, mapping, mountpoint, "-f", *options])
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        wait_until_mounted(proc, mountpoint, log_path, argv)
        m = Mount(proc, mountpoint, log_path, argv)
        yield m
        rc = proc.poll()
        if rc is None:
            rc = m.unmount()
        assert rc == 0, f"daemon exited with status {rc}\n{m.describe()}"
        assert not is_mounted(mountpoint), f"still mounted after the daemon ended\n{m.describe()}"
        if expect_clean_log:
            bad = [ln for ln in m.log().splitlines()
                   if "error" in ln.lower() or "warning" in ln.lower()]
            assert not bad, f"daemon log mentions errors:\n{m.describe()}"
    finally:
        _force_cleanup(proc, mountpoint)


def run_daemon(ckptfs_bin: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ckptfs in the mount form and wait for the command (not a daemon it leaves).

    Output goes through files, not pipes: a daemon that went into the background
    may keep an inherited pipe open (valgrind's log fd does), and reading a pipe
    would then wait for the daemon instead of the command."""
    argv = shlex.split(os.environ.get("EXEC_PREFIX", "")) + [ckptfs_bin, *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                           timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, p.returncode,
                                           out.read().decode("utf-8", "replace"),
                                           err.read().decode("utf-8", "replace"))
