"""The ckptfs Python API: the bundled command, run with --json, and the plugin."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_NATIVE = os.path.join(_HERE, "_native")

# The TensorFlow versions the plugin is tested with (CI loads it into each);
# older ones are refused rather than tried.
MIN_TENSORFLOW = (2, 20)
TESTED_TENSORFLOW = ("2.20", "2.21")


class CkptfsError(Exception):
    """A ckptfs command failed; str() is its message."""


class MappingError(CkptfsError, ValueError):
    """A mistake in a mapping file (or a source it names), where ckptfs found it.

    file, line and column (1-based) locate it; line and column are None when no
    line is at fault (a source that cannot be read as a whole, say), and file
    is None when the message names no file. message is the text after
    "error: ".
    """

    def __init__(self, file: Optional[str], line: Optional[int], column: Optional[int],
                 message: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        where = file or ""
        if file and line is not None:
            where += f":{line}:{column}"
        super().__init__(f"{where}: error: {message}" if where else message)


class TensorFlowError(CkptfsError, ImportError):
    """The plugin cannot be loaded: TensorFlow is missing or not a version it fits."""


@dataclass(frozen=True)
class Tensor:
    """One tensor of a checkpoint or of a merge (`ckptfs ls`).

    name is the tensor's name: a str, with bytes that are not UTF-8 as lone
    surrogates (os.fsencode(name) gives the exact bytes: `name_bytes`). shard,
    offset and size say where its bytes are (None for a partitioned variable).
    For a merge, source is the mapping's source name and source_name the
    tensor's name there (both None for what ckptfs writes itself, the object
    graph); for a checkpoint both are None.
    """

    name: str
    dtype: str
    shape: Tuple[int, ...]
    shard: Optional[int] = None
    offset: Optional[int] = None
    size: Optional[int] = None
    source: Optional[str] = None
    source_name: Optional[str] = None

    @property
    def name_bytes(self) -> bytes:
        """The name as the bytes stored in the checkpoint."""
        return self.name.encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Source:
    """A source of a merge: its name in the mapping, tensors used, checkpoint prefix."""

    name: str
    tensors: int
    checkpoint: str


@dataclass(frozen=True)
class DataFile:
    """A file of the merged directory (kind: checkpoint, index, data, safetensors, or file: a
    safetensors index.json or a `file` line's file).

    source_shard: a data file that is one source shard whole (FUSE passthrough).
    """

    name: str
    kind: str
    size: int
    source_shard: bool


@dataclass(frozen=True)
class CheckResult:
    """What `ckptfs check` found: the merge a mapping file makes."""

    mapping: str
    prefix: str
    layout: str
    tensors: int
    data_bytes: int
    sources: Tuple[Source, ...]
    files: Tuple[DataFile, ...]
    warnings: Tuple[str, ...] = field(default_factory=tuple)


def binary() -> str:
    """Path of the ckptfs command this package bundles."""
    path = os.path.join(_NATIVE, "ckptfs")
    if not os.access(path, os.X_OK):
        raise CkptfsError(f"the ckptfs binary is missing from the package: {path}")
    return path


def tf_plugin() -> str:
    """Path of the TensorFlow filesystem plugin (libckptfs_tf.so) this package bundles."""
    path = os.path.join(_NATIVE, "libckptfs_tf.so")
    if not os.path.isfile(path):
        raise CkptfsError(f"the TensorFlow plugin is missing from the package: {path}")
    return path


def _run(*args: str, check_rc: bool = True) -> "subprocess.CompletedProcess[bytes]":
    p = subprocess.run([binary(), *args], stdin=subprocess.DEVNULL, capture_output=True)
    if check_rc and p.returncode != 0:
        raise _error(p)
    return p


_DIAG = re.compile(r"^(.*?):(\d+):(\d+): error: (.*)$")
_FILE_DIAG = re.compile(r"^(.*?): error: (.*)$")


def _error(p: "subprocess.CompletedProcess[bytes]") -> CkptfsError:
    """The error a failed command printed: a MappingError if it has a mapping's form."""
    lines = p.stderr.decode("utf-8", "replace").strip().splitlines()
    last = next((line for line in lines if ": error: " in line), lines[-1] if lines else "")
    m = _DIAG.match(last)
    if m:
        return MappingError(m[1], int(m[2]), int(m[3]), m[4])
    if last.startswith("ckptfs: "):  # the command's own complaint, not a mapping's
        return CkptfsError(last[len("ckptfs: "):])
    m = _FILE_DIAG.match(last)
    if m:  # a mapping error at no line: "FILE: error: MESSAGE"
        return MappingError(m[1], None, None, m[2])
    return CkptfsError(last or f"ckptfs exited with status {p.returncode}")


def _load(p: "subprocess.CompletedProcess[bytes]") -> Any:
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        raise CkptfsError(f"ckptfs printed no JSON ({e}): {p.stdout[:200]!r}") from None


def check(mapping: PathLike) -> CheckResult:
    """Resolve a mapping file as a mount would (`ckptfs check --json`), mounting nothing.

    Returns the merge's summary; raises MappingError at the line and column at
    fault (or CkptfsError when the command cannot run).
    """
    p = _run("check", "--json", "--", os.fspath(mapping), check_rc=False)
    if p.returncode not in (0, 1) or not p.stdout:
        raise _error(p)
    d = _load(p)
    if not d["ok"]:
        e = d["error"]
        raise MappingError(e["file"], e["line"], e["column"], e["message"])
    return CheckResult(
        mapping=d["mapping"], prefix=d["prefix"], layout=d["layout"], tensors=d["tensors"],
        data_bytes=d["data_bytes"],
        sources=tuple(Source(s["name"], s["tensors"], s["checkpoint"]) for s in d["sources"]),
        files=tuple(DataFile(f["name"], f["kind"], f["size"], f["source_shard"])
                    for f in d["files"]),
        warnings=tuple(d["warnings"]))


def ls(path: PathLike) -> list[Tensor]:
    """The tensors of a checkpoint, a safetensors file, or a mapping's merge (`ckptfs ls`).

    path is a checkpoint prefix, a directory with a `checkpoint` file, an
    s3:// or http(s):// checkpoint, a .safetensors file, or a mapping file.
    Name order; partitioned variables once (not their pieces).
    """
    d = _load(_run("ls", "--json", "--", os.fspath(path)))
    return [Tensor(name=t["name"], dtype=t["dtype"], shape=tuple(t["shape"]),
                   shard=t["shard"], offset=t["offset"], size=t["size"],
                   source=t.get("source"), source_name=t.get("source_name"))
            for t in d["tensors"]]


def materialize(mapping: PathLike, out_prefix: PathLike, link: bool = False,
                format: Optional[str] = None, force: bool = False,
                strict: bool = False) -> str:
    """Write the merge of mapping as a real checkpoint OUT_PREFIX (`ckptfs materialize`).

    link: write only the .index and symlinks to the source shards. format:
    None (TensorFlow's files), or "safetensors" (OUT_PREFIX.safetensors;
    strict refuses a tensor it cannot hold). force: overwrite. Also writes the
    directory's `checkpoint` file. Returns out_prefix as a str.
    """
    args = ["materialize"]
    if link:
        args.append("--link")
    if force:
        args.append("--force")
    if format is not None:
        args += ["--format", format]
    if strict:
        args.append("--strict")
    out = os.fspath(out_prefix)
    _run(*args, "--", os.fspath(mapping), out)
    return out


def uri(mapping: PathLike, prefix: Optional[str] = None) -> str:
    """The merged checkpoint of mapping as TensorFlow reads it through the plugin.

    "ckptfs:///ABS/PATH/merge.conf/PREFIX", PREFIX being the mapping's own
    (`prefix =`, default model.ckpt: found with check(), which raises
    MappingError for a broken mapping) unless given. The directory,
    "ckptfs:///ABS/PATH/merge.conf", is uri(...).rsplit("/", 1)[0]. Call
    register_tensorflow() before TensorFlow opens it.
    """
    path = os.path.abspath(os.fspath(mapping))
    if prefix is None:
        prefix = check(path).prefix
    return "ckptfs://" + path + "/" + prefix


_registered = False
_register_lock = threading.Lock()


def _version_tuple(version: str) -> Tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:2])


def register_tensorflow() -> None:
    """Load the bundled plugin into TensorFlow (the ckptfs:// scheme); once per process.

    Raises TensorFlowError when TensorFlow cannot be imported, is older than
    the versions the plugin is tested with, or refuses the plugin.
    """
    global _registered
    with _register_lock:
        if _registered:
            return
        try:
            import tensorflow as tf  # type: ignore[import-untyped,unused-ignore]
        except ImportError as e:
            raise TensorFlowError(
                "ckptfs.register_tensorflow() needs TensorFlow, which cannot be imported "
                f"({e}); install it, e.g. pip install tensorflow") from e
        version = getattr(tf, "__version__", "unknown")
        if _version_tuple(version) < MIN_TENSORFLOW:
            raise TensorFlowError(
                f"the ckptfs plugin needs TensorFlow {MIN_TENSORFLOW[0]}.{MIN_TENSORFLOW[1]} "
                f"or later (tested with {', '.join(TESTED_TENSORFLOW)}), not {version}")
        try:
            schemes = tf.io.gfile.get_registered_schemes()
        except AttributeError:
            schemes = []
        if "ckptfs" not in schemes:
            try:
                tf.experimental.register_filesystem_plugin(tf_plugin())
            except Exception as e:  # tf.errors.*, or no such function
                raise TensorFlowError(
                    f"TensorFlow {version} refused the ckptfs plugin {tf_plugin()}: {e}") from e
        _registered = True


@dataclass(frozen=True)
class Mount:
    """A mounted merge: path is the mountpoint, prefix the merged checkpoint's name."""

    path: str
    prefix: str
    mapping: str

    @property
    def checkpoint(self) -> str:
        """The merged checkpoint's prefix in the mount (MOUNTPOINT/PREFIX)."""
        return os.path.join(self.path, self.prefix)


# `ckptfs WORD`: the subcommands, which a mount's mapping must not be taken for
_COMMANDS = ("ls", "verify", "cat", "check", "materialize", "tf-plugin")


def _mount_options(options: "dict[str, Union[str, int, bool]]") -> "list[str]":
    opts = []
    for key, value in options.items():
        if value is True:
            opts.append(key)
        elif value is False or value is None:
            continue
        else:
            text = str(value)
            if "," in text:
                raise ValueError(f"mount option {key}={text!r}: ',' cannot be passed")
            opts.append(f"{key}={text}")
    return ["-o", ",".join(opts)] if opts else []


def _is_mountpoint(path: str) -> bool:
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4:
                mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])
                if mp == target:
                    return True
    return False


def _unmount(path: str) -> None:
    """Unmount path; while it is busy (a reader still holds a file open: a
    CheckpointReader not yet collected, say) retry for a second, then detach it
    lazily, so the mountpoint is free on return: the kernel ends the mount
    when the last file is closed."""
    fusermount = shutil.which("fusermount3")
    for attempt in range(6):
        if attempt == 5:
            tool = [fusermount, "-u", "-z", path] if fusermount else ["umount", "-l", path]
        else:
            tool = [fusermount, "-u", path] if fusermount else ["umount", path]
        p = subprocess.run(tool, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if p.returncode == 0 or not _is_mountpoint(path):
            return
        gc.collect()  # a reader of the mount kept only by a reference cycle
        time.sleep(0.2)
    raise CkptfsError(f"cannot unmount {path}: {p.stderr.strip()}")


@contextlib.contextmanager
def mount(mapping: PathLike, mountpoint: PathLike, **options: Union[str, int, bool]
          ) -> Iterator[Mount]:
    """Mount the merge of mapping at mountpoint for the with block (FUSE).

    Returns once the mount is up (after the whole merge is checked: a
    broken mapping raises MappingError and mounts nothing) and unmounts on
    leaving the block, exception or not (a file still open in the mount then,
    after a second of retries, is left to a lazy unmount: the mountpoint is
    free, the open file readable until closed). options are `-o` options: prefix,
    layout ("single" or "shards"), format, cache, allow_other=True, ...
    (`ckptfs --help`). Needs root, or a fusermount3 the user may run.

        with ckptfs.mount("merge.conf", "merged") as m:
            tf.train.load_checkpoint(m.checkpoint)
    """
    mp = os.path.abspath(os.fspath(mountpoint))
    mapping_path = os.fspath(mapping)
    # the mount form has no "--": a mapping named like a command or an option
    # is given as ./NAME (messages then show ./NAME)
    arg = mapping_path
    if arg.startswith("-") or arg in _COMMANDS:
        arg = os.path.join(".", arg)
    # without -f the daemon goes to the background once the kernel has the mount
    p = _run(arg, mp, *_mount_options(options), check_rc=False)
    if p.returncode != 0:
        raise _error(p)
    try:
        prefix = str(options.get("prefix") or _mounted_prefix(mp))
        yield Mount(path=mp, prefix=prefix, mapping=mapping_path)
    finally:
        _unmount(mp)


def _mounted_prefix(mp: str) -> str:
    """The prefix the mount's `checkpoint` file names (model.ckpt by default)."""
    try:
        with open(os.path.join(mp, "checkpoint"), encoding="utf-8") as f:
            m = re.search(r'^model_checkpoint_path: "(.*)"$', f.read(), re.M)
    except OSError:
        m = None
    return m[1] if m else "model.ckpt"
