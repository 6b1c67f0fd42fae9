"""The test environment as plain values and functions (no fixtures): where the repository,
the corpus and the build are, and how a command of ours is run. tests/integration/conftest.py
builds its fixtures on these; a test module that needs them at import time imports this
module (not conftest, whose name another directory's conftest.py shares)."""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess

import pytest

from pylib import mounting

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS)
CORPUS_DIR = os.path.join(REPO, "tests", "data", "corpus")
# corpus id -> prefix relative to the corpus dir
CORPUS = {
    "serving_half_plus_two_tf1": "serving_half_plus_two_tf1/variables",
    "serving_half_plus_two_tf2": "serving_half_plus_two_tf2/variables",
    "tfx_estimator_tf1": "tfx_estimator_tf1/model.ckpt-1000",
    "tfx_keras_tf2": "tfx_keras_tf2/variables",
}
CORPUS_IDS = ["corpus/" + c for c in CORPUS]

COMMAND_TIMEOUT = 120


# ---------------------------------------------------------------------------------------
# binaries

def build_dir() -> str:
    """$CKPTFS_BUILD, else <repo>/build."""
    return os.path.abspath(os.environ.get("CKPTFS_BUILD", os.path.join(REPO, "build")))


def require_binary(path: str) -> str:
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"required binary missing or not executable: {path} "
                    f"(build the project, or set CKPTFS_BUILD to the build dir)", pytrace=False)
    return path


@dataclasses.dataclass
class Result:
    rc: int
    stdout: bytes
    stderr: str
    argv: list

    def __iter__(self):  # rc, out, err = run(...)
        return iter((self.rc, self.stdout, self.stderr))

    def describe(self) -> str:
        out = self.stdout[:2000].decode("utf-8", "replace")
        return (f"$ {shlex.join(self.argv)}\n-> exit {self.rc}\n--- stdout ---\n{out}\n"
                f"--- stderr ---\n{self.stderr[:4000]}")


def run_command(argv: list) -> Result:
    argv = mounting.exec_prefix() + [str(a) for a in argv]
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"timed out after {COMMAND_TIMEOUT}s: {shlex.join(argv)}")
    return Result(p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"), argv)
