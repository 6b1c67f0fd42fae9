"""Run ckptfs daemons and commands for tests and benchmarks, and always clean up after them.

Modelled on libfuse's test/cases/lib/common.sh.  ``mounted()`` starts the daemon (in the
foreground, ``ckptfs MAPPING MNT -f``, its output in a log file; or in daemon mode, timing
the command), polls until the path is a mountpoint and fails early, with the log, if the
daemon died first.  Leaving the block normally unmounts with ``fusermount3 -u``, waits for
the daemon and checks that it exited with status 0 (and, if asked, logged no error).  Any
exit, failures included, ends in ``Daemon.stop()``: ``fusermount3 -u`` (retried while
busy), then ``-u -z``, then the daemon is waited for and killed if it will not end, so a
failure never leaks a mount.  ``daemon()`` is the same without the claims about how the
daemon ends, for tests that kill it themselves.

``run_cmd()`` runs any command (the mount form that daemonizes included) with a timeout
that reports a hang instead of waiting forever.  ``mount_attempt()`` runs the mount form
the way a user does and unmounts whatever it mounted; ``assert_not_mounted()`` checks
that a command left no mount and no process behind.

Environment: EXEC_PREFIX is put before every command line, daemons included (e.g.
"valgrind -q --error-exitcode=99", as scripts/test --valgrind does); run_cmd's timeouts
grow to fit.  CKPTFS_MOUNT_OPTS is added to every daemon's command line, after the
test's own options (e.g. "-o passthrough=off": the whole suite on the daemon's read
path, as .ci/run does).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

MOUNT_TIMEOUT = 30.0   # seconds for the daemon to mount (valgrind is slow)
EXIT_TIMEOUT = 30.0    # seconds for the daemon to exit once unmounted


class MountError(AssertionError):
    """A daemon that did not mount, unmount or end as it should (an AssertionError, so a
    test reports it as a failure rather than an error)."""


# ---------------------------------------------------------------------------------------
# commands

def exec_prefix() -> list[str]:
    return shlex.split(os.environ.get("EXEC_PREFIX", ""))


def mount_opts() -> list[str]:
    """CKPTFS_MOUNT_OPTS, split as the shell would."""
    return shlex.split(os.environ.get("CKPTFS_MOUNT_OPTS", ""))


def command_timeout(base: float) -> float:
    """valgrind (EXEC_PREFIX) is some 20-50x slower."""
    return base * 10 if exec_prefix() else base


@dataclasses.dataclass
class Run:
    argv: list
    rc: int | None        # None if it hung
    stdout: str
    stderr: str
    hung: bool = False
    seconds: float = 0.0
    mounted: bool | None = None   # mount_attempt(): whether it had mounted

    def describe(self) -> str:
        state = "HUNG (killed after the timeout)" if self.hung else f"exit {self.rc}"
        return (f"$ {shlex.join(self.argv)}\n-> {state}\n--- stdout ---\n{self.stdout[-3000:]}"
                f"\n--- stderr ---\n{self.stderr[-3000:]}")


def _run(argv: list, timeout: float) -> Run:
    # Output goes through files, not pipes: a daemon the command leaves behind may keep
    # an inherited pipe open (valgrind's log fd does), and reading a pipe would then
    # wait for the daemon instead of the command.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True)
        hung = False
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            os.killpg(p.pid, signal.SIGKILL)
            rc = p.wait()
        seconds = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        return Run(argv, None if hung else rc, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"), hung, seconds)


def run_cmd(argv: list, timeout: float = 20.0) -> Run:
    """Run EXEC_PREFIX + argv; a command still running after the timeout (scaled for
    EXEC_PREFIX) is killed with its process group and reported as hung."""
    return _run(exec_prefix() + [str(a) for a in argv], command_timeout(timeout))


# ---------------------------------------------------------------------------------------
# the mount table

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


def mounts_at(path: str) -> list[tuple[str, str, str]]:
    path = os.path.realpath(path)
    return [r for r in mount_table() if r[1] == path]


def is_mounted(path: str) -> bool:
    return bool(mounts_at(path))


def fusermount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["fusermount3", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def force_unmount_all(path: str):
    """Unmount everything stacked on path (a test that found a bug may leave several)."""
    for _ in range(8):
        if not is_mounted(path):
            return
        if fusermount("-u", path).returncode != 0:
            fusermount("-u", "-z", path)


# ---------------------------------------------------------------------------------------
# processes

def _cmdline(pid: str) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


def processes_naming(path: str) -> list[tuple[int, str]]:
    """(pid, command line) of every other process whose arguments include path."""
    path = os.path.realpath(path)
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        raw = _cmdline(pid)
        args = raw.split(b"\0") if raw else []
        if any(a and os.path.realpath(a.decode(errors="replace")) == path for a in args):
            out.append((int(pid), b" ".join(args).decode(errors="replace")))
    return out


# ---------------------------------------------------------------------------------------
# the mount form attempted, and what it leaves behind

def mount_attempt(ckptfs_bin: str, mapping: str, mnt: str, *args: str,
                  timeout: float = 20.0) -> Run:
    """The mount form, the way a user runs it (it daemonizes if it mounts), through
    run_cmd. Whatever it mounted is unmounted before this returns; the Run's ``mounted``
    says whether it had mounted."""
    os.makedirs(mnt, exist_ok=True)
    try:
        r = run_cmd([ckptfs_bin, mapping, mnt, *args], timeout=timeout)
    finally:
        was_mounted = is_mounted(mnt)
        force_unmount_all(mnt)
        if was_mounted:
            # make the finding visible even if the caller's asserts come later
            print(f"NOTE: {mapping} mounted at {mnt}")
    r.mounted = was_mounted
    return r


@contextlib.contextmanager
def public_tmpdir(prefix: str = "ckptfs-"):
    """A directory under /tmp every user may enter (pytest's tmp dirs are 0700), for
    allow_other mounts and runs as another user; afterwards whatever is mounted on a
    directory in it is unmounted, and it is removed."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if os.path.isdir(p) and not os.path.islink(p) and is_mounted(p):
                force_unmount_all(p)
        shutil.rmtree(d)


def assert_not_mounted(mnt: str, what: str = "the command"):
    """Nothing mounted at mnt and no process left naming it (and, whatever the answer,
    nothing left mounted)."""
    found = mounts_at(mnt)
    force_unmount_all(mnt)
    assert not found, f"{what}: left a mount at {mnt}: {found}"
    strays = processes_naming(mnt)
    assert not strays, f"{what}: left processes behind: {strays}"


def _find_process(argv: list) -> int | None:
    """The pid of the process whose command line is exactly argv (a daemon that went
    into the background keeps the command line it was started with)."""
    want = ("\0".join(argv) + "\0").encode()
    for pid in os.listdir("/proc"):
        if pid.isdigit() and _cmdline(pid) == want:
            return int(pid)
    return None


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def read_log(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------------------------------
# the daemon

class Daemon:
    """One ckptfs daemon started here and its mountpoint.

    running lists every Daemon started and not yet stopped (stop_all() ends them);
    busy_retries records every `fusermount3 -u` that failed and was retried."""

    running: list = []
    busy_retries: list = []

    def __init__(self, ckptfs_bin: str, mapping: str, mountpoint: str, *options: str,
                 foreground: bool = True, log_path: str | None = None,
                 append_log: bool = False):
        self.path = mountpoint
        self.foreground = foreground
        self.argv = exec_prefix() + [ckptfs_bin, mapping, mountpoint,
                                     *(["-f"] if foreground else []), *options,
                                     *mount_opts()]
        # default: MNT.log beside the mountpoint, outside the mount
        self.log_path = log_path or os.path.join(os.path.dirname(os.path.abspath(mountpoint)),
                                                 os.path.basename(mountpoint) + ".log")
        self.append_log = append_log
        self.proc: subprocess.Popen | None = None   # foreground: our child
        self.pid: int | None = None
        self.cmd_seconds: float | None = None       # daemon mode: how long the command took

    # -- starting

    def start(self, timeout: float = MOUNT_TIMEOUT) -> "Daemon":
        """Start and return once mounted; MountError (with the log) if it is not."""
        os.makedirs(self.path, exist_ok=True)
        if is_mounted(self.path):
            raise MountError(f"{self.path} is already a mountpoint: {mounts_at(self.path)}")
        Daemon.running.append(self)
        if not self.foreground:
            r = _run(self.argv, timeout)
            self.cmd_seconds = r.seconds
            self.pid = _find_process(self.argv)
            if r.rc != 0:
                raise MountError(f"the mount command failed\n{r.describe()}")
            if not is_mounted(self.path):
                raise MountError(f"the mount command returned 0 but {self.path} is not "
                                 f"mounted\n{r.describe()}")
            return self
        with open(self.log_path, "ab" if self.append_log else "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.path):
            rc = self.proc.poll()
            if rc is not None:
                raise MountError(f"daemon exited with status {rc} before mounting\n"
                                 f"{self.describe()}")
            if time.monotonic() > deadline:
                raise MountError(f"not mounted after {timeout}s\n{self.describe()}")
            time.sleep(0.01)
        return self

    # -- looking at it

    def log(self) -> str:
        return read_log(self.log_path)

    def describe(self) -> str:
        log = f"\n--- daemon log ---\n{self.log()}" if self.foreground else ""
        return f"$ {shlex.join(self.argv)}{log}"

    def join(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and _pid_alive(self.pid)

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM of the daemon, in bytes."""
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0]) * 1024
        return out

    # -- ending it

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int | None:
        """The exit status (None in daemon mode: not our child), once it has ended."""
        if self.proc is not None:
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        else:
            deadline = time.monotonic() + timeout
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.005)
            if not self.alive():
                return None
        raise MountError(f"daemon still running {timeout}s after it should have ended\n"
                         f"{self.describe()}")

    def _fusermount_u(self, attempts: int) -> str | None:
        """fusermount3 -u, tried up to attempts times while it fails (something may be
        busy inside the mount); None once it worked, else its last complaint."""
        err = None
        for attempt in range(attempts):
            r = fusermount("-u", self.path)
            if r.returncode == 0:
                return None
            err = r.stderr.strip()
            Daemon.busy_retries.append(f"{self.path}: {err}")
            time.sleep(0.1 * (attempt + 1))
        return err

    def unmount(self, attempts: int = 1) -> int | None:
        """fusermount3 -u, then the daemon's exit status."""
        err = self._fusermount_u(attempts)
        if err is not None:
            raise MountError(f"fusermount3 -u failed {attempts} time(s): {err}\n"
                             f"{self.describe()}")
        return self.wait_exit()

    def signal(self, sig: int = signal.SIGTERM) -> int | None:
        """Send sig to the daemon, then its exit status."""
        os.kill(self.pid, sig)
        return self.wait_exit()

    def finish(self, expect_clean_log: bool = True, unmount_attempts: int = 1):
        """The normal end: unmount unless the daemon already ended, then insist on exit
        status 0 (when known), nothing left mounted and, if expect_clean_log, a log that
        mentions no error or warning."""
        if self.proc is not None:
            ended = self.proc.poll() is not None
        else:
            ended = not is_mounted(self.path)
        if ended:
            rc = self.proc.returncode if self.proc is not None else None
        else:
            rc = self.unmount(unmount_attempts)
        if rc not in (0, None):
            raise MountError(f"daemon exited with status {rc}\n{self.describe()}")
        if is_mounted(self.path):
            raise MountError(f"still mounted after the daemon ended\n{self.describe()}")
        if expect_clean_log and self.foreground:
            bad = [ln for ln in self.log().splitlines()
                   if "error" in ln.lower() or "warning" in ln.lower()]
            if bad:
                raise MountError(f"daemon log mentions errors:\n{self.describe()}")

    def kill(self):
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)

    def stop(self, exit_timeout: float = EXIT_TIMEOUT) -> list[str]:
        """Whatever state it is in: afterwards nothing is mounted at the path and the
        daemon is gone.  Returns what had to be forced (empty if nothing).  Does nothing
        for a Daemon that was never started (its path may be someone else's mount)."""
        if self not in Daemon.running:
            return []
        problems = []
        if is_mounted(self.path) and self._fusermount_u(5) is not None:
            problems.append("fusermount3 -u kept failing; lazily unmounted (-uz)")
        force_unmount_all(self.path)
        if self.alive():
            try:
                self.wait_exit(exit_timeout)
            except MountError:
                problems.append("daemon did not exit; killed")
                self.kill()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.wait()
        Daemon.running.remove(self)
        return problems


def stop_all() -> list[str]:
    """Stop every daemon still running; what had to be forced, per mountpoint."""
    problems = []
    for d in list(Daemon.running):
        problems += [f"{d.path}: {p}" for p in d.stop()]
    return problems


@contextlib.contextmanager
def mounted(ckptfs_bin: str, mapping: str, mountpoint: str, *options: str,
            foreground: bool = True, log_path: str | None = None, append_log: bool = False,
            expect_clean_log: bool = True, mount_timeout: float = MOUNT_TIMEOUT,
            unmount_attempts: int = 1):
    """Run ``ckptfs MAPPING MOUNTPOINT [-f] OPTIONS...`` and yield the Daemon once mounted.

    Leaving the block normally ends it as Daemon.finish() says (unless the test already
    ended the daemon); leaving it any way stops it by force if needed."""
    d = Daemon(ckptfs_bin, mapping, mountpoint, *options, foreground=foreground,
               log_path=log_path, append_log=append_log)
    try:
        d.start(mount_timeout)
        yield d
        d.finish(expect_clean_log, unmount_attempts)
    finally:
        d.stop()


@contextlib.contextmanager
def daemon(ckptfs_bin: str, mapping: str, mountpoint: str, *options: str):
    """Like mounted(), but makes no claim about how the daemon ends: the test decides
    (kill -9, SIGTERM, ...).  Always leaves nothing mounted and no daemon."""
    d = Daemon(ckptfs_bin, mapping, mountpoint, *options)
    try:
        yield d.start()
    finally:
        d.kill()
        d.stop()
