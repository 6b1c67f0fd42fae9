#!/usr/bin/env python3
"""Benchmarks of safetensors sources (issue 21); reports numbers, asserts nothing.

  .venv/bin/python scripts/bench_st.py --ckptfs build/ckptfs --work /tmp/bench-st

S1: open a Hugging Face directory of 100k tensors (4 shards and the index.json): `ckptfs
    check` of an identity mapping, and mount + first stat, for format = safetensors (no
    byte read) and format = tensorflow (the CRC32C of every tensor computed: 1.5 MiB).
S2: a 2 GiB frankenmerge of two 1 GiB sharded models (16 layers of 4 x 16 MiB float32
    tensors each; a's layers 0-15, then b's as 16-31), page cache dropped before each
    run: time to a loaded model (every tensor read with safe_open(..., "np")) from the
    mount, against a copy made the way mergekit makes one (every tensor read and written
    back out with save_file, then loaded); bytes written by each. And the mount time of
    the same merge as format = tensorflow, whose CRC32Cs read the 2 GiB once.
Needs root (drop_caches) and FUSE.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

LAYERS, TENSORS, MIB = 16, 4, 16


def write_dir(d: str, tensors: dict, shards: int) -> None:
    os.makedirs(d, exist_ok=True)
    names, wm = sorted(tensors), {}
    for s in range(shards):
        part = names[s * len(names) // shards:(s + 1) * len(names) // shards]
        f = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file({k: tensors[k] for k in part}, os.path.join(d, f))
        wm.update({k: f for k in part})
    total = sum(v.nbytes for v in tensors.values())
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f)


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def timed(argv: list) -> float:
    t = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def mount_and_stat(ckptfs: str, mapping: str, mnt: str, name: str) -> float:
    t = time.perf_counter()
    subprocess.run([ckptfs, mapping, mnt], check=True)
    try:
        os.stat(os.path.join(mnt, name))
        return time.perf_counter() - t
    finally:
        subprocess.run(["fusermount3", "-u", mnt], check=True)


def load_dir(d: str) -> int:
    ix = os.path.join(d, "model.safetensors.index.json")
    files = (sorted(set(json.load(open(ix))["weight_map"].values()))
             if os.path.exists(ix) else ["model.safetensors"])
    n = 0
    for f in files:
        with safe_open(os.path.join(d, f), "np") as h:
            for k in h.keys():
                n += h.get_tensor(k).nbytes
    return n


def med(xs: list) -> str:
    return f"{statistics.median(xs):.2f} s (of {', '.join(f'{x:.2f}' for x in xs)})"


def s1(ckptfs: str, work: str, reps: int) -> None:
    d = os.path.join(work, "hf100k")
    if not os.path.exists(os.path.join(d, "model.safetensors.index.json")):
        zero = np.zeros(4, np.float32)
        write_dir(d, {f"model.layers.{i // 10}.t{i % 10}.weight": zero
                      for i in range(100_000)}, 4)
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt, exist_ok=True)
    for fmt, name in (("safetensors", "model.safetensors"), ("tensorflow", "model.index")):
        mapping = os.path.join(work, f"s1-{fmt}.conf")
        with open(mapping, "w") as f:
            f.write(f"source a = {d}\nmap a:/ -> /\nformat = {fmt}\n")
        check = [timed([ckptfs, "check", mapping]) for _ in range(reps)]
        mount = [mount_and_stat(ckptfs, mapping, mnt, name) for _ in range(reps)]
        print(f"S1 100k tensors, format = {fmt}: check {med(check)}; "
              f"mount + first stat {med(mount)}")


def s2(ckptfs: str, work: str, reps: int) -> None:
    a, b = os.path.join(work, "a"), os.path.join(work, "b")
    for d, seed in ((a, 1), (b, 2)):
        if not os.path.exists(os.path.join(d, "model.safetensors.index.json")):
            rng = np.random.default_rng(seed)
            write_dir(d, {f"model.layers.{layer}.t{t}.weight":
                          np.frombuffer(rng.bytes(MIB << 20), np.float32).reshape(1024, -1)
                          for layer in range(LAYERS) for t in range(TENSORS)}, 2)
    mnt, out = os.path.join(work, "mnt"), os.path.join(work, "copy")
    os.makedirs(mnt, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    mapping = os.path.join(work, "s2.conf")
    lines = (f"source a = {a}\nsource b = {b}\n"
             "map a:model.layers.{0..15}. -> model.layers.{0..15}.\n"
             "map b:model.layers.{0..15}. -> model.layers.{16..31}.\n")
    with open(mapping, "w") as f:
        f.write(lines + "format = safetensors\n")
    tf_mapping = os.path.join(work, "s2-tf.conf")
    with open(tf_mapping, "w") as f:
        f.write(lines + "format = tensorflow\n")
    mount_s, loaded_s, copy_s, copy_loaded_s, tf_s = [], [], [], [], []
    written = 0
    for _ in range(reps):
        drop_caches()
        t0 = time.perf_counter()
        subprocess.run([ckptfs, mapping, mnt], check=True)
        mount_s.append(time.perf_counter() - t0)
        try:
            n = load_dir(mnt)
        finally:
            loaded_s.append(time.perf_counter() - t0)
            subprocess.run(["fusermount3", "-u", mnt], check=True)
        drop_caches()
        t0 = time.perf_counter()
        merged = {}
        for src, shift in ((a, 0), (b, LAYERS)):
            ix = json.load(open(os.path.join(src, "model.safetensors.index.json")))
            for fname in sorted(set(ix["weight_map"].values())):
                with safe_open(os.path.join(src, fname), "np") as h:
                    for k in h.keys():
                        layer = int(k.split(".")[2])
                        merged[k.replace(f".{layer}.", f".{layer + shift}.", 1)] = \
                            h.get_tensor(k)
        save_file(merged, os.path.join(out, "model.safetensors"))
        del merged
        os.sync()
        copy_s.append(time.perf_counter() - t0)
        written = os.path.getsize(os.path.join(out, "model.safetensors"))
        drop_caches()
        t1 = time.perf_counter()
        assert load_dir(out) == n
        copy_loaded_s.append(copy_s[-1] + time.perf_counter() - t1)
        os.remove(os.path.join(out, "model.safetensors"))
        drop_caches()
        t0 = time.perf_counter()
        subprocess.run([ckptfs, tf_mapping, mnt], check=True)
        tf_s.append(time.perf_counter() - t0)
        subprocess.run(["fusermount3", "-u", mnt], check=True)
    print(f"S2 {n / 2**30:.0f} GiB frankenmerge, cold cache: mount {med(mount_s)}; "
          f"loaded from the mount {med(loaded_s)}, 0 bytes written")
    print(f"S2 mergekit-style copy: written {med(copy_s)}; loaded {med(copy_loaded_s)}, "
          f"{written} bytes written")
    print(f"S2 format = tensorflow mount (CRC32C of {n / 2**30:.0f} GiB), cold: {med(tf_s)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckptfs", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    s1(os.path.abspath(args.ckptfs), os.path.abspath(args.work), args.reps)
    s2(os.path.abspath(args.ckptfs), os.path.abspath(args.work), args.reps)


if __name__ == "__main__":
    main()
