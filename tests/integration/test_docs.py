"""The documentation is true: the README tutorial runs as written, the man pages list
exactly the options --help lists, every error message of the sources is explained in
docs/mapping.md, and `ckptfs check` stays one screen for a 100k-tensor merge.

README tutorial convention (see the HTML comment above it in README.md): between
``<!-- tutorial: begin -->`` and ``<!-- tutorial: end -->``,
  - a ```python block runs in one Python session shared by all python blocks (as a
    reader keeps one open); a trailing ``# TEXT`` comment on a line that calls print()
    is the output that print must produce;
  - a ```console block is a shell session: each ``$ COMMAND`` line runs in bash, and the
    lines after it, up to the next ``$``, are its output (compared word by word, so
    column alignment and `ls` layout do not matter);
  - a block right after ``<!-- file: PATH -->`` is written to PATH.
Everything runs in an empty temporary directory, with ``ckptfs`` on PATH from
$CKPTFS_BUILD; the paths in the README are relative to that directory, so nothing is
substituted.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import pytest

from pylib import mounting

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
README = os.path.join(REPO, "README.md")
MAPPING_DOC = os.path.join(REPO, "docs", "mapping.md")
COMMANDS = ["check", "ls", "verify", "cat", "materialize"]
SCREEN_LINES = 24


# ---------------------------------------------------------------------------------------
# README tutorial

def tutorial_blocks(text: str) -> list[dict]:
    """[{kind: python|console|file, body, line, path?}] of the tutorial, in order."""
    begin = text.index("<!-- tutorial: begin -->")
    end = text.index("<!-- tutorial: end -->")
    first_line = text.count("\n", 0, begin) + 1
    lines = text[begin:end].split("\n")
    blocks, pending_file, i = [], None, 0
    while i < len(lines):
        m = re.match(r"<!-- file: (\S+) -->", lines[i])
        if m:
            pending_file = m.group(1)
        fence = re.match(r"```(\w*)\s*$", lines[i])
        if fence:
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            body = "\n".join(lines[i + 1:j]) + "\n"
            lang = fence.group(1)
            block = {"body": body, "line": first_line + i + 1}
            if pending_file:
                block.update(kind="file", path=pending_file)
            elif lang in ("python", "console"):
                block["kind"] = lang
            else:
                raise AssertionError(f"README.md:{block['line']}: a ```{lang} block in the "
                                     f"tutorial needs a <!-- file: PATH --> marker")
            blocks.append(block)
            pending_file = None
            i = j
        i += 1
    return blocks


def console_steps(body: str) -> list[tuple[str, str]]:
    """[(command, expected output)] of a console block."""
    steps = []
    for ln in body.splitlines():
        if ln.startswith("$ "):
            steps.append([ln[2:], []])
        else:
            assert steps, f"console block must start with a '$ ' line: {body!r}"
            steps[-1][1].append(ln)
    return [(cmd, "\n".join(out)) for cmd, out in steps]


DRIVER = r'''
import ast, contextlib, io, json, sys, traceback
ns = {"__name__": "__main__"}
for req in sys.stdin:
    code = json.loads(req)["code"]
    results, error = [], None
    try:
        tree = ast.parse(code)
        for stmt in tree.body:
            buf = io.StringIO()
            mod = ast.Module(body=[stmt], type_ignores=[])
            with contextlib.redirect_stdout(buf):
                exec(compile(mod, "<README>", "exec"), ns)
            results.append({"first": stmt.lineno, "last": stmt.end_lineno,
                            "out": buf.getvalue()})
    except Exception:
        error = traceback.format_exc()
    sys.stdout.write("@@RESULT@@ " + json.dumps({"results": results, "error": error}) + "\n")
    sys.stdout.flush()
'''


class PythonSession:
    """One Python process that runs blocks statement by statement, sharing globals."""

    def __init__(self, cwd: str, env: dict | None = None):
        self.log = open(os.path.join(cwd, "..", "python-stderr.log"), "w")
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=cwd, text=True, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)

    def run(self, code: str) -> list[dict]:
        self.proc.stdin.write(json.dumps({"code": code}) + "\n")
        self.proc.stdin.flush()
        for ln in self.proc.stdout:
            if ln.startswith("@@RESULT@@ "):
                reply = json.loads(ln[len("@@RESULT@@ "):])
                if reply["error"]:
                    raise AssertionError(reply["error"])
                return reply["results"]
        raise AssertionError(f"the Python session died; stderr:\n{self.stderr()}")

    def stderr(self) -> str:
        self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def expected_prints(code: str) -> dict[int, str]:
    """{line number: expected output} for print() lines with a trailing comment."""
    out = {}
    tree = ast.parse(code)
    print_lines = {n.lineno for n in ast.walk(tree)
                   if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"}
    for no, ln in enumerate(code.splitlines(), 1):
        m = re.search(r"#\s*(.+?)\s*$", ln)
        if m and no in print_lines:
            out[no] = m.group(1)
    return out


def check_python(session: PythonSession, block: dict):
    expect = expected_prints(block["body"])
    for r in session.run(block["body"]):
        want = [expect[n] for n in range(r["first"], r["last"] + 1) if n in expect]
        if want:
            got = r["out"].splitlines()
            assert got == want, (f"README.md:{block['line'] + r['first']}: the tutorial says "
                                 f"{want}, Python printed {got}")


def check_console(block: dict, cwd: str, env: dict):
    for cmd, want in console_steps(block["body"]):
        with tempfile.TemporaryFile() as out:
            # output through a file: the mount's daemon must not hold a pipe open
            p = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=out, stderr=subprocess.STDOUT, timeout=120)
            out.seek(0)
            got = out.read().decode("utf-8", "replace")
        where = f"README.md:{block['line']}: $ {cmd}"
        # a command whose output shows an error is expected to fail
        if re.search(r": error: ", want):
            assert p.returncode != 0, f"{where}\nexpected a failure, got exit 0:\n{got}"
        else:
            assert p.returncode == 0, f"{where}\n-> exit {p.returncode}\n{got}"
        assert got.split() == want.split(), f"{where}\n--- README ---\n{want}\n--- got ---\n{got}"


@pytest.mark.parametrize("install", ["build", "wheel"])
def test_readme_tutorial_runs_as_written(tmp_path, ckptfs_bin, install, request):
    """With the build's ckptfs on PATH, and with the wheel's (pip install --target: its
    console script on PATH, its package on PYTHONPATH)."""
    blocks = tutorial_blocks(open(README, encoding="utf-8").read())
    kinds = [b["kind"] for b in blocks]
    assert "python" in kinds and "console" in kinds and "file" in kinds, kinds
    work = tmp_path / "tutorial"
    work.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    regular_plugin = os.environ.get("CKPTFS_TF_PLUGIN_LIB")
    extra = {}
    if install == "wheel":
        site = request.getfixturevalue("wheel_site")
        os.symlink(os.path.join(site, "bin", "ckptfs"), bindir / "ckptfs")
        extra["PYTHONPATH"] = site
    elif regular_plugin:
        # a sanitized build has no plugin (conftest.plugin_path): `ckptfs tf-plugin`
        # names the regular build's, everything else runs the sanitized binary
        (bindir / "ckptfs").write_text(
            '#!/bin/sh\n'
            f'[ "$1" = tf-plugin ] && exec echo {shlex.quote(regular_plugin)}\n'
            f'exec {shlex.quote(ckptfs_bin)} "$@"\n')
        (bindir / "ckptfs").chmod(0o755)
    else:
        os.symlink(ckptfs_bin, bindir / "ckptfs")
    env = dict(os.environ, PATH=f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}", **extra)
    mnt = str(work / "merged")
    session = PythonSession(str(work), env)   # ckptfs on PATH for `ckptfs tf-plugin`
    try:
        for b in blocks:
            if b["kind"] == "file":
                path = work / b["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(b["body"])
            elif b["kind"] == "python":
                try:
                    check_python(session, b)
                except AssertionError as e:
                    raise AssertionError(f"README.md:{b['line']}: {e}\n"
                                         f"--- python stderr ---\n{session.stderr()}") from None
            else:
                check_console(b, str(work), env)
        assert not mounting.is_mounted(mnt), "the tutorial must end unmounted"
    finally:
        session.close()
        if mounting.is_mounted(mnt):
            mounting.fusermount("-u", "-z", mnt)


def test_readme_keeps_first_screen_commands():
    text = open(README, encoding="utf-8").read()
    head = text[:text.index("## Tutorial")]
    assert re.search(r"^    scripts/demo +#", head, re.M), head
    assert re.search(r"^    scripts/test +#", head, re.M), head


# ---------------------------------------------------------------------------------------
# --help, usage errors, man pages

def run(argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, **kw)


@pytest.fixture(scope="module")
def mount_helper(ckptfs_bin, tmp_path_factory) -> str:
    """A mount.ckptfs symlink to the built binary (it looks at its own name)."""
    path = tmp_path_factory.mktemp("helper") / "mount.ckptfs"
    os.symlink(ckptfs_bin, path)
    return str(path)


def helps(ckptfs_bin, mount_helper) -> dict[str, str]:
    """Every --help text: the top level, each command, the mount form, mount.ckptfs."""
    out = {"ckptfs": run([ckptfs_bin, "--help"])}
    for c in COMMANDS:
        out[f"ckptfs {c}"] = run([ckptfs_bin, c, "--help"])
    out["ckptfs MAPPING MOUNTPOINT"] = run([ckptfs_bin, "MAPPING", "MOUNTPOINT", "--help"])
    out["mount.ckptfs"] = run([mount_helper, "--help"])
    for name, p in out.items():
        assert p.returncode == 0 and p.stdout.startswith("Usage: "), \
            f"{name} --help: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
        assert not p.stderr, f"{name} --help wrote to stderr: {p.stderr}"
        long = [ln for ln in p.stdout.splitlines() if len(ln) > 79]
        assert not long, f"{name} --help has lines over 79 columns: {long}"
    return {k: v.stdout for k, v in out.items()}


def test_help_for_every_command(ckptfs_bin, mount_helper):
    h = helps(ckptfs_bin, mount_helper)
    for c in COMMANDS:
        assert re.search(rf"^  or:  ckptfs {c} ", h["ckptfs"], re.M), f"{c} not in the synopsis"
        assert re.search(rf"^  {c} ", h["ckptfs"], re.M), f"{c} not in the command list"
        assert h[f"ckptfs {c}"].startswith(f"Usage: ckptfs {c} ")
        assert run([ckptfs_bin, c, "-h"]).stdout == h[f"ckptfs {c}"]
    assert "Usage: mount.ckptfs MAPPING MOUNTPOINT" in h["mount.ckptfs"]
    assert help_options(h["ckptfs MAPPING MOUNTPOINT"]) == help_options(h["mount.ckptfs"])
    assert run([ckptfs_bin, "-h"]).stdout == h["ckptfs"]


def test_version(ckptfs_bin, mount_helper):
    p = run([ckptfs_bin, "--version"])
    assert p.returncode == 0 and re.fullmatch(r"ckptfs \d+\.\d+\.\d+\n", p.stdout), p
    assert run([ckptfs_bin, "-V"]).stdout == p.stdout
    m = run([mount_helper, "--version"])
    assert m.returncode == 0, m
    assert m.stdout.splitlines()[0] == "mount.ckptfs (ckptfs) " + p.stdout.split()[1], m.stdout


@pytest.mark.parametrize("args, message", [
    ([], None),
    (["ls"], "ckptfs: ls: missing CHECKPOINT|MAPPING"),
    (["ls", "a", "b"], "ckptfs: ls: unexpected argument 'b'"),
    (["verify", "-x", "a"], "ckptfs: verify: unknown option '-x'"),
    (["cat", "a"], "ckptfs: cat: missing TENSOR"),
    (["check"], "ckptfs: check: missing MAPPING"),
    (["materialize", "m.conf"], "ckptfs: materialize: missing OUT_PREFIX"),
    (["materialize", "--copy", "m.conf", "out"], "ckptfs: materialize: unknown option '--copy'"),
    (["lss", "x"], "ckptfs: unknown command 'lss' (did you mean 'ls'?)"),
    (["merge.cnf", "mnt"], "ckptfs: 'merge.cnf' is not a command, and no mapping file"),
])
def test_usage_errors_say_what_and_where_to_look(ckptfs_bin, tmp_path, args, message):
    p = run([ckptfs_bin, *args], cwd=tmp_path)
    assert p.returncode == 1, p
    assert not p.stdout, p.stdout
    if message:
        assert p.stderr.startswith(message), p.stderr
    cmd = args[0] if args and args[0] in COMMANDS else None
    hint = f"Try 'ckptfs {cmd} --help'" if cmd else "Try 'ckptfs --help'"
    assert hint in p.stderr, p.stderr
    if cmd:
        assert f"Usage: ckptfs {cmd} " in p.stderr, p.stderr


def test_mount_usage_errors(ckptfs_bin, mount_helper, tmp_path):
    conf = tmp_path / "m.conf"
    conf.write_text("source a = x\nmap a:/ -> /\n")
    p = run([ckptfs_bin, conf])
    assert p.returncode == 1 and p.stderr.startswith("ckptfs: missing MOUNTPOINT"), p
    assert "Try 'ckptfs --help'" in p.stderr
    p = run([mount_helper])
    assert p.returncode == 1 and "Usage: mount.ckptfs MAPPING MOUNTPOINT" in p.stderr, p
    p = run([ckptfs_bin, conf, tmp_path / "nowhere"])
    assert p.returncode == 2 and f"mkdir -p '{tmp_path}/nowhere'" in p.stderr, p


OPTION = re.compile(r"(?<![\w/.=-])(--?[A-Za-z][\w-]*|-o [a-z_]+(?:=[A-Za-z|]+)?)")


def tag_options(tag: str) -> set[str]:
    """The options of one option-list entry: "-d, -o debug" -> {"-d", "-o debug"},
    "-o prefix=NAME" -> {"-o prefix="}, "-o ro,nodev" -> {"-o ro", "-o nodev"}."""
    lst = re.fullmatch(r"-o ([a-z_]+(?:,[a-z_]+)+)", tag)
    if lst:
        return {"-o " + w for w in lst.group(1).split(",")}
    opts = set()
    for part in re.split(r",\s+", tag):
        if part.startswith("-o "):
            opts.add(re.sub(r"=.*", "=", part))
        elif part.startswith("-"):
            opts.add(part.split()[0])
    return opts


def help_options(text: str) -> set[str]:
    """Options that a --help text defines: the option column of its option lists."""
    opts = set()
    for ln in text.splitlines():
        m = re.match(r"  (-\S.*?)(?:  +\S|$)", ln)
        if m:
            opts |= tag_options(m.group(1))
    return opts


def man_text(path: str) -> str:
    env = dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8")
    p = run(["man", "--no-hyphenation", "--no-justification", "-l", path], env=env)
    assert p.returncode == 0, p.stderr
    return re.sub(r".\x08", "", p.stdout).replace("\u2010", "-").replace("\u2212", "-")


def man_options(text: str) -> set[str]:
    """Options a rendered man page defines: tagged paragraphs that start with '-'."""
    opts = set()
    for ln in text.splitlines():
        # a tag alone on its line, or followed by the description after 1+ blanks
        # when it is short (groff puts it in column 14)
        m = re.match(r" {7}(-\S.*?)(?: {2,}\S|$)", ln) or re.match(r" {7}(-\S+) \S", ln)
        if m:
            opts |= tag_options(m.group(1))
    return opts


@pytest.fixture(scope="module")
def man_pages(build_dir) -> dict[str, str]:
    pages = {n: os.path.join(build_dir, "man", n) for n in ("ckptfs.1", "mount.ckptfs.8")}
    for p in pages.values():
        assert os.path.isfile(p), f"{p} missing: the build makes it (CKPTFS_MAN, help2man)"
    return pages


def test_man_pages_list_the_options_of_help(ckptfs_bin, mount_helper, man_pages):
    h = helps(ckptfs_bin, mount_helper)
    ckptfs_help = "\n".join(v for k, v in h.items() if not k.endswith("MOUNTPOINT")
                             and k != "mount.ckptfs")
    mount_help = h["mount.ckptfs"]
    for page, text in (("ckptfs.1", ckptfs_help), ("mount.ckptfs.8", mount_help)):
        man = man_text(man_pages[page])
        in_help, in_man = help_options(text), man_options(man)
        assert len(in_help) >= 5, (page, in_help)
        missing = sorted(in_help - in_man)
        extra = sorted(in_man - in_help)
        assert not missing, f"options in --help but not defined in {page}: {missing}"
        assert not extra, f"options defined in {page} but in no --help: {extra}"
        # and every option a help text mentions anywhere is in the page's text
        flat = " ".join(man.split())
        for opt in set(OPTION.findall(text)):
            assert opt in flat, f"{page} never mentions {opt!r}, which --help does"
    # the man page has every command's help
    man = man_text(man_pages["ckptfs.1"])
    for c in COMMANDS:
        usage = h[f"ckptfs {c}"].splitlines()[0][len("Usage: "):]
        assert usage in man, f"ckptfs.1 lacks the section of '{usage}'"
        second = " ".join(h[f"ckptfs {c}"].splitlines()[1].split()[:6])
        assert second in " ".join(man.split()), f"ckptfs.1 lacks the text of {c} --help"


def test_man_page_version_matches(ckptfs_bin, man_pages):
    version = run([ckptfs_bin, "--version"]).stdout.strip()
    for p in man_pages.values():
        assert f'"{version}"' in open(p, encoding="utf-8").read(), p


# ---------------------------------------------------------------------------------------
# every error message explained in docs/mapping.md

MESSAGE_SOURCES = ["mapping/lexer.c", "mapping/directive.c", "mapping/parser.c",
                   "mapping/readfile.c", "view/build.c", "view/plan.c", "view/objmerge.c",
                   "view/objpath.c", "view/objemit.c", "view/view.c",
                   "view/layout.c", "bundle/openfile.c", "bundle/resolve.c", "bundle/index.c",
                   "bundle/reader.c", "bundle/entry.c", "bundle/table_read.c",
                   "fs/session.c", "fs/passthrough.c", "fs/uring.c", "fs/cache.c", "cli/cli_mount.c", "cli/cli_util.c",
                   "cli/cli_inspect.c", "cli/cli_mapping.c", "cli/cli_objects.c",
                   "cli/cli_materialize.c", "cli/cli_st.c", "view/safetensors.c", "safetensors/parse.c",
                   "safetensors/json.c", "safetensors/hfindex.c", "view/st_source.c", "view/st_crc.c", "view/files.c",
                   "cli/main.c", "cli/cli_tfplugin.c", "tfplugin/cache.c", "tfplugin/plugin.cc",
                   "bundle/remote.c", "store/url.c", "store/aws.c", "store/http.c", "store/cache.c",
                   "store/obj.c", "store/store.c", "fs/ops.c"]
REPORTERS = r"(?:json_bad|perr|lex_error|mapping_diag|diag|view_errf|view_warn|bundle_errf|store_errf|cli_error|notice|snprintf|bad|fuse_log)"
# format strings that are not messages (file names, number formats, lone severities)
NOT_MESSAGES = re.compile(r"^(error|warning|error %d|%s|%s%s|\.data-.*|model_checkpoint_path.*|"
                          r"-omax_read=%u|%s\.index|%s\.tempstate%llu|data block %zu|"
                          r"%s\.data-%05d-of-%05d|/proc/self/fd/%d|%\.1f %s|%s%lld:%lld|%s-|%s\[|\]|%s/checkpoint|"
                          r"%s\.safetensors(\.tmpXXXXXX)?|%s\.tmpXXXXXX| and %zu more|"
                          # store/: request URLs, headers, cache file names, cache keys
                          r"https://.*amazonaws\.com/.*|If-Match: %s|x-amz-security-token: %s|"
                          r"aws:amz:%s:s3|%s\.map|%s\.data|%s\n%s%s\n%lld|"
                          # cli_materialize.c: the `checkpoint` state file's text
                          r"%c|%s: \"|\\%03o|\"\n)$", re.S)


def c_messages(path: str) -> list[str]:
    """The format string of every error reporting call in a C file."""
    src = open(os.path.join(REPO, path), encoding="utf-8").read()
    found = []
    for m in re.finditer(r"\b" + REPORTERS + r"\s*\(", src):
        depth, j = 1, m.end()
        while j < len(src) and depth:
            c = src[j]
            if c in "()":
                depth += 1 if c == "(" else -1
            elif src.startswith("/*", j):
                j = src.index("*/", j) + 1
            elif c == "'":
                j = src.index("'", j + 3 if src[j + 1] == "\\" else j + 2)
            elif c == '"':
                parts, k = [], j
                while True:
                    lit = re.match(r'\s*"((?:[^"\\]|\\.)*)"', src[k:])
                    pri = re.match(r"\s*PRI([udx])64", src[k:])
                    if lit:
                        parts.append(lit.group(1))
                        k += lit.end()
                    elif pri:
                        parts.append("ll" + pri.group(1))
                        k += pri.end()
                    else:
                        break
                found.append(bytes("".join(parts), "utf-8").decode("unicode_escape"))
                break
            j += 1
    return [f for f in found if not NOT_MESSAGES.match(f)]


def format_regex(fmt: str) -> re.Pattern:
    fmt = fmt.removesuffix("\\n").removesuffix("\n")   # fuse_log lines end in a newline
    out, pos = "", 0
    for m in re.finditer(r"%[-#0-9.*]*(?:ll|l|z)?[sduoxXm%]", fmt):
        out += re.escape(fmt[pos:m.start()])
        out += "%" if m.group(0) == "%%" else ".*?"
        pos = m.end()
    return re.compile(out + re.escape(fmt[pos:]))


def test_every_error_message_is_explained():
    doc = open(MAPPING_DOC, encoding="utf-8").read()
    # the doc shows messages in `code`; markdown tables escape nothing we use
    doc_lines = doc.splitlines()
    undocumented = []
    for path in MESSAGE_SOURCES:
        for fmt in c_messages(path):
            rx = format_regex(fmt)
            if not any(rx.search(ln) for ln in doc_lines):
                undocumented.append(f"{path}: {fmt!r}")
    assert not undocumented, ("messages not explained in docs/mapping.md:\n  "
                              + "\n  ".join(undocumented))


def test_every_directive_is_documented():
    doc = open(MAPPING_DOC, encoding="utf-8").read()
    src = open(os.path.join(REPO, "mapping", "directive.c"), encoding="utf-8").read()
    names = re.findall(r'\{ "(\w+)", \w+_USAGE, parse_\w+ \}', src)
    assert sorted(names) == ["checkpoint", "exclude", "file", "format", "layout", "map",
                             "max_shard_size", "prefix", "source", "unmapped"], names
    for n in names:
        assert re.search(rf"^`{n} ", doc, re.M), f"directive {n} has no entry in mapping.md"


def test_documented_mapping_examples_are_right(tmp_path, ckptfs_bin):
    """A few of the documented messages, produced for real (the message table's examples
    use made-up names; these check the forms)."""
    import tensorflow as tf

    src = str(tmp_path / "src" / "model")
    tf.raw_ops.SaveV2(prefix=src, tensor_names=["enc/w", "step"], shape_and_slices=["", ""],
                      tensors=[tf.constant([1.0, 2.0]), tf.constant(3, dtype=tf.int64)])
    cases = {
        "sorce a = x\n": r"m\.conf:1:1: error: unknown directive 'sorce' \(expected source",
        f"source a = {src}\nmap a:/->b/\n": r"m\.conf:2:5: error: missing blanks around '->'",
        f"source a = {src}\nmap a:/ -> b\n": r"m\.conf:2:12: error: root '/' must map to a scope "
                                             r"ending in '/' \(or '/' to keep names\): write 'b/'",
        f"source a = {src}\nmap c:/ -> /\n": r"m\.conf:2:5: error: unknown source 'c'",
        f"source a = {src}\nmap a:/ -> /\nmap a:/ -> /\n":
            r"m\.conf:3:1: error: target '.*' is produced twice: by this line and by line 2",
        f"source a = {tmp_path}/none\nmap a:/ -> /\n":
            r"m\.conf:1:12: error: source 'a': '.*/none': not a checkpoint",
    }
    for text, want in cases.items():
        conf = tmp_path / "m.conf"
        conf.write_text(text)
        p = run([ckptfs_bin, "check", "m.conf"], cwd=tmp_path)
        assert p.returncode == 1 and re.search(want, p.stderr), (text, p.stderr)


# ---------------------------------------------------------------------------------------
# `ckptfs check` fits one screen

def test_check_fits_one_screen_for_100k_tensors(tmp_path, ckptfs_bin):
    """One line per source and a summary, whatever the number of tensors."""
    import tensorflow as tf

    n = 100_000
    big = str(tmp_path / "big" / "model")
    names = [f"layer{i // 100}/w{i % 100}" for i in range(n)]
    tf.raw_ops.SaveV2(prefix=big, tensor_names=names, shape_and_slices=[""] * n,
                      tensors=tf.unstack(tf.range(n, dtype=tf.float32)))
    small = str(tmp_path / "small" / "model")
    tf.raw_ops.SaveV2(prefix=small, tensor_names=["step"], shape_and_slices=[""],
                      tensors=[tf.constant(7, dtype=tf.int64)])
    conf = tmp_path / "merge.conf"
    conf.write_text("source big = big/model\nsource small = small/model\n"
                    "map big:/ -> model/\nmap small:step -> global_step\n"
                    "exclude big:*/w99\nexclude *:no_such_tensor\n")
    p = run([ckptfs_bin, "check", "merge.conf"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = (p.stdout + p.stderr).splitlines()
    assert len(out) <= SCREEN_LINES, "\n".join(out)
    assert all(len(ln) <= 100 for ln in out), "\n".join(out)
    assert re.search(r"source big +99000 tensors", p.stdout), p.stdout
    assert "merged: model.ckpt  99001 tensors" in p.stdout, p.stdout
    assert "warning: exclude '*:no_such_tensor' matches no tensor" in p.stderr, p.stderr


# ---------------------------------------------------------------------------------------
# docs/examples

def test_systemd_unit_example_is_valid(tmp_path):
    unit = os.path.join(REPO, "docs", "examples", "mnt-merged.mount")
    p = run(["systemd-analyze", "verify", unit])
    assert p.returncode == 0, p.stdout + p.stderr
    text = open(unit, encoding="utf-8").read()
    where = re.search(r"^Where=(\S+)$", text, re.M).group(1)
    name = run(["systemd-escape", "-p", "--suffix=mount", where]).stdout.strip()
    assert name == os.path.basename(unit), (name, unit)
    assert re.search(r"^Type=fuse\.ckptfs$", text, re.M)


def test_fstab_example_is_one_ckptfs_line():
    path = os.path.join(REPO, "docs", "examples", "fstab")
    lines = [ln.split() for ln in open(path, encoding="utf-8")
             if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1 and len(lines[0]) == 6, lines
    what, where, fstype, opts, dump, passno = lines[0]
    assert fstype == "fuse.ckptfs" and what.endswith(".conf") and where.startswith("/")
    doc = open(os.path.join(REPO, "docs", "mounting.md"), encoding="utf-8").read()
    assert " ".join(lines[0]) in " ".join(doc.split()), "docs/mounting.md shows another line"
