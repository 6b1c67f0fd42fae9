"""Servers that lie: answers that are not the bytes asked for are refused, with a
message naming the object, and nothing of them is served or cached.

A small HTTP server (threads, in this process: only `ckptfs` subprocesses talk to it)
serves a real checkpoint's files and lies in one way per test: a Content-Range other
than asked, 200 and the whole object for a range request, more bytes than asked, over
64 KiB of headers, an ETag that changes. A second server on another loopback address
checks that a redirect of a signed S3 request is not followed there (the signature
would go with it)."""

from __future__ import annotations

import http.server
import os
import socketserver
import subprocess
import threading

import pytest

from pylib import testenv

CORPUS = os.path.join(testenv.CORPUS_DIR, "tfx_estimator_tf1")
PREFIX = "model.ckpt-1000"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        srv = self.server
        srv.seen.append((self.path, dict(self.headers)))
        if srv.lie == "redirect":
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.2:{srv.other_port}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        name = os.path.basename(self.path.split("?")[0])
        path = os.path.join(CORPUS, name)
        if not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(path, "rb").read()
        first, last = 0, len(data) - 1
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            first, last = int(a), min(int(b) if b else len(data) - 1, len(data) - 1)
        body = data[first:last + 1]
        ranged = bool(rng) and srv.lie != "full-200"
        if srv.lie == "full-200":
            body = data
        self.send_response(206 if ranged else 200)
        shown_first = first + 1 if srv.lie == "wrong-range" and first + 1 <= last else first
        if ranged:
            self.send_header("Content-Range", f"bytes {shown_first}-{last}/{len(data)}")
        etag = f'"v{srv.requests}"' if srv.lie == "etag" else '"v1"'
        srv.requests += 1
        self.send_header("ETag", etag)
        if srv.lie == "huge-headers":
            for i in range(80):
                self.send_header(f"X-Filler-{i}", "x" * 1000)
        if srv.lie == "more-bytes":
            body = body + b"\0" * 64
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(host: str) -> _Server:
    srv = _Server((host, 0), _Handler)
    srv.lie, srv.seen, srv.requests, srv.other_port = "", [], 0, 0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture()
def liar():
    main, other = _serve("127.0.0.1"), _serve("127.0.0.2")
    main.other_port = other.server_address[1]
    yield main, other
    for s in (main, other):
        s.shutdown()
        s.server_close()


def _cat(ckptfs_bin, url, tmp_path, env=None):
    e = dict(os.environ, CKPTFS_CACHE_DIR=str(tmp_path / "cache"), CKPTFS_REMOTE_TIMEOUT="5")
    for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
              "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        e.pop(k, None)
    e["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    e.update(env or {})
    return subprocess.run([ckptfs_bin, "cat", url, "dnn/hiddenlayer_0/bias"],
                          capture_output=True, env=e, timeout=60)


def test_an_honest_server_works(liar, ckptfs_bin, tmp_path):
    main, _ = liar
    r = _cat(ckptfs_bin, f"http://127.0.0.1:{main.server_address[1]}/m/{PREFIX}", tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == 400


@pytest.mark.parametrize("lie, says", [
    ("wrong-range", "answered a different range than asked"),
    ("full-200", "ignored the Range header (200 instead of 206)"),
    ("more-bytes", "sent more bytes than asked"),
    ("huge-headers", "sent over 64 KiB of headers"),
    ("etag", "has changed since it was opened"),
])
def test_a_lying_answer_is_refused(liar, ckptfs_bin, tmp_path, lie, says):
    main, _ = liar
    main.lie = lie
    url = f"http://127.0.0.1:{main.server_address[1]}/m/{PREFIX}"
    r = _cat(ckptfs_bin, url, tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert r.stdout == b""
    assert says in err and f"http://127.0.0.1:{main.server_address[1]}/m/" in err, err
    # nothing was recorded as verified: an honest server now serves the real bytes
    main.lie = ""
    r = _cat(ckptfs_bin, url, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == _cat(ckptfs_bin, url, tmp_path / "fresh").stdout


def test_a_signed_request_is_not_redirected_to_another_host(liar, ckptfs_bin, tmp_path):
    main, other = liar
    main.lie = "redirect"
    r = _cat(ckptfs_bin, f"s3://bkt/m/{PREFIX}", tmp_path, env={
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{main.server_address[1]}",
        "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "s3cr3t-never-sent"})
    err = r.stderr.decode()
    assert r.returncode == 1 and "HTTP 307" in err, err
    assert main.seen and "Authorization" in main.seen[0][1]
    assert other.seen == [], "a signed request followed a redirect to another host"
    assert "s3cr3t" not in err
