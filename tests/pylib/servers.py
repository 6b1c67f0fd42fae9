"""Real servers for the tests of remote sources (s3://, https://, http://), on 127.0.0.1.

* ``S3Server``: s3s-fs (Rust, `cargo install s3s-fs --features binary`; scripts/install-deps
  puts it in build-deps/s3s-fs/bin): an S3 API over a directory, checking SigV4 and serving
  ranges.  A bucket is the directory ROOT/BUCKET, an object the file below it.
* ``NginxServer``: Debian's nginx in the foreground with a generated configuration, serving a
  directory over https (a self-signed certificate made with openssl) and plain http.
* ``FaultProxy``: a small threaded HTTP/1.1 proxy (in a Python process of its own) in
  front of either, that can flip a byte in response bodies (headers and ETag kept), stall,
  throttle, or be stopped and started again on the same port.

Every server is a context manager and ``stop()`` is safe to call at any time, twice
included; leaving the context always kills the server's process and waits for it.  ``sent_bytes()`` is what
the server's process wrote (the ``wchar`` line of /proc/PID/io): for these servers, the
bytes they sent over their sockets (a 1,000,000-byte GET moves ~1,000,929).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time

HOST = "127.0.0.1"
START_TIMEOUT = 20.0

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---------------------------------------------------------------------------------------
# helpers

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None, timeout: float = START_TIMEOUT,
              what: str = "server", log: str | None = None):
    """Wait until something accepts connections on HOST:port; fail early if proc died."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} before listening"
                               f" on {port}\n{_tail(log)}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not listening on {port} after {timeout}s\n{_tail(log)}")
        time.sleep(0.02)


def _tail(path: str | None, n: int = 4000) -> str:
    if not path or not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        return f.read()[-n:].decode("utf-8", "replace")


def proc_wchar(pid: int) -> int:
    """The wchar line of /proc/PID/io: every byte the process wrote (sockets included)."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise RuntimeError(f"no wchar in /proc/{pid}/io")


def _end(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 5.0):
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _find_binary(name: str, *candidates: str) -> str | None:
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return shutil.which(name)


def s3s_fs_binary() -> str | None:
    """build-deps/s3s-fs/bin/s3s-fs (scripts/install-deps), $S3S_FS, or one on PATH."""
    return _find_binary("s3s-fs", os.environ.get("S3S_FS", ""),
                        os.path.join(REPO, "build-deps", "s3s-fs", "bin", "s3s-fs"),
                        os.path.expanduser("~/.cargo/bin/s3s-fs"))


def nginx_binary() -> str | None:
    return _find_binary("nginx", "/usr/sbin/nginx")


class _Process:
    """A server process we started: started, stopped, killed, its bytes written counted."""

    proc: subprocess.Popen | None = None
    port: int = 0
    name = "server"

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _ports(self) -> list[int]:
        return [self.port]

    def start(self):
        if self.alive():
            return self
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUST_LOG", "AWS_"))}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self._argv(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=env, start_new_session=True)
        try:
            for p in self._ports():
                wait_port(p, self.proc, what=self.name, log=self.log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self):
        """SIGKILL, as a crash would end it (restart with start())."""
        _end(self.proc, signal.SIGKILL)

    def stop(self):
        _end(self.proc)

    def sent_bytes(self) -> int:
        return proc_wchar(self.proc.pid)

    def log(self) -> str:
        return _tail(self.log_path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------------------------------
# S3: s3s-fs

class S3Server(_Process):
    """s3s-fs over root (a temp dir: buckets are its directories) with fixed keys."""

    name = "s3s-fs"

    def __init__(self, root: str, access_key: str = "ckptfs-test-key",
                 secret_key: str = "ckptfs-test-secret/xyz+1", port: int | None = None,
                 region: str = "us-east-1", binary: str | None = None):
        self.binary = binary or s3s_fs_binary()
        if not self.binary:
            raise RuntimeError("s3s-fs not found: run scripts/install-deps")
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.port = port or free_port()
        self.log_path = os.path.join(os.path.dirname(os.path.abspath(root)),
                                     f"s3s-fs-{self.port}.log")

    def _argv(self):
        return [self.binary, "--host", HOST, "--port", str(self.port), "--access-key",
                self.access_key, "--secret-key", self.secret_key, self.root]

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self, endpoint: str | None = None, secret_key: str | None = None) -> dict:
        """The AWS_* variables that point an S3 client at this server (or at endpoint)."""
        return {"AWS_ENDPOINT_URL": endpoint or self.endpoint,
                "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": secret_key or self.secret_key,
                "AWS_REGION": self.region}

    def path(self, bucket: str, key: str = "") -> str:
        return os.path.join(self.root, bucket, key)

    def put_file(self, bucket: str, key: str, src: str):
        dst = self.path(bucket, key)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = dst + ".uploading"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)   # a new object, as a PUT makes it: never half-written

    def put_bytes(self, bucket: str, key: str, data: bytes):
        dst = self.path(bucket, key)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = dst + ".uploading"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, dst)

    def upload_checkpoint(self, prefix: str, bucket: str, key_prefix: str) -> str:
        """Every file PREFIX.* as KEY_PREFIX.*; returns s3://BUCKET/KEY_PREFIX."""
        upload_prefix(prefix, lambda suffix, src: self.put_file(bucket, key_prefix + suffix,
                                                                src))
        return f"s3://{bucket}/{key_prefix}"

    def upload_tree(self, src_dir: str, bucket: str, key_dir: str) -> str:
        """Every file below src_dir under KEY_DIR/; returns s3://BUCKET/KEY_DIR."""
        for dirpath, _, files in os.walk(src_dir):
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f), src_dir)
                self.put_file(bucket, f"{key_dir}/{rel}", os.path.join(dirpath, f))
        return f"s3://{bucket}/{key_dir}"


def upload_prefix(prefix: str, put):
    """put(suffix, path) for PREFIX.index and every PREFIX.data-*."""
    d, base = os.path.split(prefix)
    n = 0
    for f in sorted(os.listdir(d)):
        if f.startswith(base + ".") and (f.endswith(".index") or ".data-" in f):
            put(f[len(base):], os.path.join(d, f))
            n += 1
    if not n:
        raise FileNotFoundError(f"no checkpoint files at {prefix}")


# ---------------------------------------------------------------------------------------
# https: nginx with a self-signed certificate

def make_cert(d: str) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (CN and subjectAltName): (cert, key)."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}",
                    "-keyout", key, "-out", cert], check=True, capture_output=True,
                   stdin=subprocess.DEVNULL, timeout=60)
    return cert, key


NGINX_CONF = """\
master_process off;
daemon off;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {run}/access.log;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    types {{ }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    server {{
        listen {host}:{https_port} ssl;
        listen {host}:{http_port};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root};
        location / {{ }}
    }}
}}
"""


class NginxServer(_Process):
    """nginx serving root over https (port) and plain http (http_port): one process
    (master_process off), so its /proc/PID/io counts every byte it sent."""

    name = "nginx"

    def __init__(self, root: str, run_dir: str, binary: str | None = None):
        self.binary = binary or nginx_binary()
        if not self.binary:
            raise RuntimeError("nginx not found: run scripts/install-deps")
        self.root, self.run_dir = root, run_dir
        os.makedirs(root, exist_ok=True)
        os.makedirs(run_dir, exist_ok=True)
        self.cert, self.key = make_cert(run_dir)
        self.port, self.http_port = free_port(), free_port()
        self.conf = os.path.join(run_dir, "nginx.conf")
        self.log_path = os.path.join(run_dir, "nginx.out")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(run=run_dir, host=HOST, https_port=self.port,
                                      http_port=self.http_port, cert=self.cert, key=self.key,
                                      root=root))

    def _argv(self):
        return [self.binary, "-c", self.conf, "-p", self.run_dir, "-e",
                os.path.join(self.run_dir, "error.log")]

    def _ports(self):
        return [self.port, self.http_port]

    @property
    def base_url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def http_base_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    def put_file(self, rel: str, src: str):
        dst = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst + ".uploading")
        os.replace(dst + ".uploading", dst)

    def upload_checkpoint(self, prefix: str, rel_prefix: str) -> str:
        """PREFIX.* as ROOT/REL_PREFIX.*; returns the https URL of the prefix."""
        upload_prefix(prefix, lambda suffix, src: self.put_file(rel_prefix + suffix, src))
        return f"{self.base_url}/{rel_prefix}"

    def error_log(self) -> str:
        return _tail(os.path.join(self.run_dir, "error.log"))


# ---------------------------------------------------------------------------------------
# a fault-injecting HTTP proxy

class _Conn:
    """A socket with a read buffer: lines, exact byte counts, up to EOF."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def _more(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def head(self) -> bytes | None:
        """Everything up to and including the blank line; None at EOF before one."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20 or not self._more():
                return None
        i = self.buf.index(b"\r\n\r\n") + 4
        h, self.buf = self.buf[:i], self.buf[i:]
        return h

    def read(self, n: int) -> bytes:
        """Up to n bytes (fewer only at EOF)."""
        while len(self.buf) < n:
            if not self._more():
                break
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def some(self, n: int) -> bytes:
        """At most n bytes, what is there or one recv; b'' at EOF."""
        if not self.buf and not self._more():
            return b""
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._more():
                raise ConnectionError("EOF in a chunked body")
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out


def _headers(head: bytes) -> tuple[str, dict]:
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return lines[0], hdrs


def _reset(sock: socket.socket):
    """Close with RST (SO_LINGER 0): as a crashed server's connection looks."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _ProxyCore:
    """The proxy itself (threads), run in the process `FaultProxy` starts: the modes,
    ``rate``, stop() and start() are those FaultProxy documents.  Request headers go
    upstream unchanged (Host too, so a SigV4 signature made for the proxy's address
    still verifies); keep-alive towards the client, one upstream connection a request."""

    def __init__(self, upstream_port: int, port: int | None = None):
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.mode = "pass"
        self.match = ""
        self.stall_after: int | None = None
        self.rate: float | None = None
        self.lock = threading.Lock()
        self.requests = 0          # requests relayed (all kinds)
        self.faulted = 0           # requests a fault was applied to
        self.body_bytes = 0        # body bytes sent to clients
        self.log: list[str] = []   # "METHOD TARGET -> STATUS [fault]"
        self._listener: socket.socket | None = None
        self._socks: set = set()
        self._threads: list = []
        self._epoch = 0            # bumped by stop() and by every mode change
        self._tokens_t = time.monotonic()
        self._sent_at_rate = 0.0

    # -- control

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def set(self, mode: str = "pass", match: str = "", stall_after: int | None = None,
            rate: float | None = None):
        with self.lock:
            self.mode, self.match, self.stall_after = mode, match, stall_after
            self.rate = rate
            self._epoch += 1
            self._tokens_t, self._sent_at_rate = time.monotonic(), 0.0

    def start(self):
        if self._listener is not None:
            return self
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((HOST, self.port))
        ls.listen(64)
        self._listener = ls
        t = threading.Thread(target=self._accept, args=(ls,), daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        """Stop listening and cut every connection (with a reset)."""
        with self.lock:
            ls, self._listener = self._listener, None
            socks, self._socks = list(self._socks), set()
            self._epoch += 1
        if ls is not None:
            try:
                ls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            ls.close()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            _reset(s)
        for t in self._threads:
            t.join(timeout=2)
        self._threads = [t for t in self._threads if t.is_alive()]

    def stats(self) -> dict:
        with self.lock:
            return {"requests": self.requests, "faulted": self.faulted,
                    "body_bytes": self.body_bytes, "log": list(self.log),
                    "listening": self._listener is not None}

    # -- serving

    def _track(self, s: socket.socket) -> bool:
        with self.lock:
            if self._listener is None:
                return False
            self._socks.add(s)
            return True

    def _untrack(self, s: socket.socket):
        with self.lock:
            self._socks.discard(s)

    def _accept(self, ls: socket.socket):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            if not self._track(c):
                _reset(c)
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            t.start()

    def _throttle(self, n: int):
        while True:
            with self.lock:
                rate = self.rate
                if not rate:
                    return
                now = time.monotonic()
                allowed = (now - self._tokens_t) * rate
                if self._sent_at_rate + n <= allowed:
                    self._sent_at_rate += n
                    return
                wait = (self._sent_at_rate + n - allowed) / rate
            time.sleep(min(wait, 0.05))

    def _hang(self, epoch: int, sock: socket.socket):
        """Until the mode changes, the proxy stops or the client goes away."""
        sock.settimeout(0.05)
        while self._epoch == epoch:
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    return
            except socket.timeout:
                continue
            except OSError:
                return
            time.sleep(0.05)

    def _serve(self, c: socket.socket):
        client = _Conn(c)
        try:
            while self._serve_one(client):
                pass
        except OSError:
            pass
        finally:
            self._untrack(c)
            c.close()

    def _serve_one(self, client: _Conn) -> bool:
        c = client.sock
        head = client.head()
        if head is None:
            return False
        first, hdrs = _headers(head)
        method, target = (first.split(" ") + ["", ""])[:2]
        body = client.read(int(hdrs.get("content-length", "0") or 0))
        with self.lock:
            epoch, mode, match = self._epoch, self.mode, self.match
            stall_after = self.stall_after
        if "range" in hdrs:
            target_shown = f"{target} {hdrs['range']}"
        else:
            target_shown = target
        fault = mode if (method == "GET" and match in target and mode != "pass") else None
        if fault == "stall" and stall_after is None:
            self._note(method, target_shown, "-", fault)
            self._hang(epoch, c)
            return False
        try:
            up = socket.create_connection((HOST, self.upstream_port), timeout=30)
        except OSError:
            self._note(method, target_shown, "upstream refused", "reset")
            _reset(c)
            return False
        try:
            up.sendall(head + body)
            upc = _Conn(up)
            rhead = upc.head()
            if rhead is None:
                self._note(method, target_shown, "upstream closed", "reset")
                _reset(c)
                return False
            status, rh = _headers(rhead)
            code = int(status.split(" ")[1])
            c.sendall(rhead)
            if method == "HEAD" or code in (204, 304) or 100 <= code < 200:
                self._note(method, target_shown, code, None)
                return True
            if "chunked" in rh.get("transfer-encoding", "").lower():
                self._note(method, target_shown, code, None)
                return self._relay_chunked(upc, c)
            if "content-length" in rh:
                n = int(rh["content-length"])
            else:
                n = None   # until EOF
            self._note(method, target_shown, code, fault)
            return self._relay_body(upc, c, n, fault, stall_after, epoch) and n is not None
        finally:
            up.close()

    def _note(self, method, target, code, fault):
        with self.lock:
            self.requests += 1
            if fault:
                self.faulted += 1
            self.log.append(f"{method} {target} -> {code}" + (f" [{fault}]" if fault else ""))

    def _relay_body(self, upc: _Conn, c: socket.socket, n: int | None, fault, stall_after,
                    epoch) -> bool:
        flip_at = n // 2 if (fault == "flip" and n) else None
        cut_at = (n // 2 if n else 0) if fault == "reset" else None
        if fault == "stall":
            cut_at = stall_after or 0
        sent = 0
        while n is None or sent < n:
            want = 16384 if n is None else min(16384, n - sent)
            if cut_at is not None and sent + want > cut_at:
                want = cut_at - sent
            if want == 0 and cut_at is not None:
                if fault == "stall":
                    self._hang(epoch, c)
                _reset(c)
                return False
            data = upc.some(want)
            if not data:
                if n is None:
                    return False
                _reset(c)   # the upstream died mid-body: so does this connection
                return False
            if flip_at is not None and sent <= flip_at < sent + len(data):
                i = flip_at - sent
                data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
            self._throttle(len(data))
            c.sendall(data)
            sent += len(data)
            with self.lock:
                self.body_bytes += len(data)
        return True

    def _relay_chunked(self, upc: _Conn, c: socket.socket) -> bool:
        while True:
            size_line = upc.line()
            c.sendall(size_line)
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:   # trailers, then the blank line
                    ln = upc.line()
                    c.sendall(ln)
                    if ln == b"\r\n":
                        return True
            data = upc.read(size + 2)
            self._throttle(len(data))
            c.sendall(data)
            with self.lock:
                self.body_bytes += size


def _proxy_main(upstream_port: int, port: int, control_port: int):
    """The proxy process: the proxy on port, and one JSON command a line on control_port
    ({"op": "set"|"start"|"stop"|"stats"|"clear"|"exit", ...}; one JSON answer a line)."""
    import json

    core = _ProxyCore(upstream_port, port).start()
    ctl = socket.socket()
    ctl.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ctl.bind((HOST, control_port))
    ctl.listen(4)
    while True:
        conn, _ = ctl.accept()
        f = conn.makefile("rwb")
        for line in f:
            cmd = json.loads(line)
            op = cmd.pop("op")
            try:
                if op == "set":
                    core.set(**cmd)
                elif op == "start":
                    core.start()
                elif op == "stop":
                    core.stop()
                elif op == "clear":
                    with core.lock:
                        core.log.clear()
                elif op == "exit":
                    core.stop()
                    f.write(b'{"ok": true}\n')
                    f.flush()
                    os._exit(0)
                ans = {"ok": True, **core.stats()}
            except Exception as e:  # noqa: BLE001 - reported to the test
                ans = {"ok": False, "error": repr(e)}
            f.write(json.dumps(ans).encode() + b"\n")
            f.flush()
        conn.close()


class FaultProxy:
    """A fault-injecting HTTP/1.1 proxy in front of HOST:upstream_port, in a process of its
    own (TensorFlow holds the GIL while it reads a file, so a proxy thread of the test's
    process would stall with it).  What it does is _ProxyCore's:

    Faults apply to GET requests whose target contains ``match`` (default: any):
      mode "pass"   relay as is
      mode "flip"   XOR one byte of the body (at its middle) with 0xFF; headers unchanged
      mode "stall"  send the headers and ``stall_after`` bytes of the body (None: nothing
                    at all, not even headers), then hang until the mode changes or stop()
      mode "reset"  send the headers and half the body, then reset the connection
    ``rate`` (bytes/s, shared by all connections) throttles every body.  An upstream that
    refuses the connection makes the proxy reset the client's, as a dead server would.
    ``stop()`` closes the listener and cuts every connection (the process stays);
    ``start()`` listens again on the same port; ``close()`` ends the process.
    Counters: ``requests``, ``faulted``, ``body_bytes``; ``log`` lists the requests
    ("METHOD TARGET [RANGE] -> STATUS [fault]").
    """

    def __init__(self, upstream_port: int, port: int | None = None):
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.control_port = free_port()
        self.proc: subprocess.Popen | None = None
        self._ctl = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _open(self):
        import sys
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from pylib import servers; "
                "servers._proxy_main(*map(int, sys.argv[2:]))")
        tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen([sys.executable, "-c", code, tests, str(self.upstream_port),
                                      str(self.port), str(self.control_port)],
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.control_port, self.proc, what="the fault proxy")
        s = socket.create_connection((HOST, self.control_port), timeout=30)
        self._ctl = s.makefile("rwb")

    def _call(self, op: str, **kw) -> dict:
        import json
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError("the fault proxy is not running")
        self._ctl.write(json.dumps({"op": op, **kw}).encode() + b"\n")
        self._ctl.flush()
        ans = json.loads(self._ctl.readline())
        if not ans.get("ok"):
            raise RuntimeError(f"fault proxy: {op}: {ans.get('error')}")
        return ans

    def set(self, mode: str = "pass", match: str = "", stall_after: int | None = None,
            rate: float | None = None):
        self._call("set", mode=mode, match=match, stall_after=stall_after, rate=rate)

    def start(self):
        if self.proc is None or self.proc.poll() is not None:
            self._open()
        else:
            self._call("start")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self._call("stop")

    def close(self):
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self._call("exit")
        except (OSError, ValueError, RuntimeError):
            pass
        _end(self.proc, signal.SIGKILL)
        self.proc = None

    def clear_log(self):
        self._call("clear")

    def stats(self) -> dict:
        return self._call("stats")

    @property
    def requests(self) -> int:
        return self.stats()["requests"]

    @property
    def faulted(self) -> int:
        return self.stats()["faulted"]

    @property
    def body_bytes(self) -> int:
        return self.stats()["body_bytes"]

    @property
    def log(self) -> list[str]:
        return self.stats()["log"]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
