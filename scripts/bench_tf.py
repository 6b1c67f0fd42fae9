"""TensorFlow worker of scripts/bench: one process that imports TensorFlow once and
then runs timed commands sent by the driver, one JSON object per line on stdin, each
answered by one JSON line on stdout ({"ok": true, "seconds": ...} or {"ok": false,
"error": ...}). TensorFlow's own logging goes to stderr (the driver sends it to a log
file), so stdout carries nothing but answers.

Commands:
  {"cmd": "restore", "prefix": P, "vars": [[name, shape], ...]}
      Restore every listed float32 variable from checkpoint prefix P with a TF1
      Saver (name-based restore, what trainers of merged checkpoints use). The
      graph is built once per variable set and reused, so only the restore is
      timed. Answers the seconds of Saver.restore and the bytes restored.
      With "groups": [[PREFIX, [name, ...]], ...] instead of "prefix", each group
      of variables is restored from its own prefix by a Saver of its own, one
      after the other (a merge restored from separate local checkpoints); the
      seconds are those of all the restores.
  {"cmd": "merge", "sources": [P1, P2, ...], "out": PREFIX}
      What users do without ckptfs: load every tensor of every source with
      tf.train.load_checkpoint, put them into variables of one graph, and save a
      merged copy with a TF1 Saver. Timed as a whole (graph building included,
      TensorFlow's import not).
  {"cmd": "setenv", "env": {NAME: VALUE or null, ...}}
      Set (null: unset) environment variables of this process, e.g.
      CKPTFS_CACHE_DIR for the plugin's next plan.
  {"cmd": "register", "plugin": PATH}
      tf.experimental.register_filesystem_plugin(PATH): the ckptfs:// plugin, so
      that "restore" can read ckptfs://MAPPING/model.ckpt (once per process).
  {"cmd": "quit"}
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_t0 = time.perf_counter()
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _t0
tf1 = tf.compat.v1
tf1.disable_eager_execution()


class Restorer:
    """A graph holding one variable per (name, shape), and a Saver over them."""

    def __init__(self, var_specs):
        self.key = tuple((n, tuple(s)) for n, s in var_specs)
        self.graph = tf.Graph()
        with self.graph.as_default():
            vs = {n: tf1.get_variable(n, shape=s, dtype=tf.float32,
                                      initializer=tf1.zeros_initializer())
                  for n, s in var_specs}
            self.vars = vs
            self.saver = tf1.train.Saver(var_list=vs)
            # A cheap op that touches every variable: proves the restore
            # produced readable values without copying 4 GiB to numpy.
            self.check = tf.add_n([tf.cast(tf.size(v), tf.int64) for v in vs.values()])
        self.sess = tf1.Session(graph=self.graph)
        self.nbytes = sum(4 * int(np.prod(s)) for _n, s in var_specs)
        self.group_savers = {}   # tuple of name tuples -> [Saver]

    def restore(self, prefix):
        t = time.perf_counter()
        self.saver.restore(self.sess, prefix)
        dt = time.perf_counter() - t
        self.sess.run(self.check)
        return dt

    def restore_groups(self, groups):
        key = tuple(tuple(names) for _p, names in groups)
        if key not in self.group_savers:
            with self.graph.as_default():
                self.group_savers[key] = [tf1.train.Saver(var_list={n: self.vars[n]
                                                                    for n in names})
                                          for names in key]
        savers = self.group_savers[key]
        t = time.perf_counter()
        for saver, (prefix, _names) in zip(savers, groups):
            saver.restore(self.sess, prefix)
        dt = time.perf_counter() - t
        self.sess.run(self.check)
        return dt

    def close(self):
        self.sess.close()


_restorer = None


def cmd_restore(req):
    global _restorer
    specs = [(n, list(s)) for n, s in req["vars"]]
    key = tuple((n, tuple(s)) for n, s in specs)
    if _restorer is None or _restorer.key != key:
        if _restorer is not None:
            _restorer.close()
        _restorer = None
        _restorer = Restorer(specs)
    if "groups" in req:
        dt = _restorer.restore_groups(req["groups"])
    else:
        dt = _restorer.restore(req["prefix"])
    return {"seconds": dt, "bytes": _restorer.nbytes}


def cmd_merge(req):
    t = time.perf_counter()
    graph = tf.Graph()
    total = 0
    with graph.as_default():
        readers = [tf.train.load_checkpoint(p) for p in req["sources"]]
        owners = {}
        for r in readers:
            shapes = r.get_variable_to_shape_map()
            dtypes = r.get_variable_to_dtype_map()
            for name in sorted(shapes):
                if name in owners:
                    raise ValueError(f"tensor {name} is in two sources")
                owners[name] = (r, shapes[name], dtypes[name])
        vs = {name: tf1.get_variable(name, shape=shape, dtype=dtype,
                                     initializer=tf1.zeros_initializer())
              for name, (_r, shape, dtype) in owners.items()}
        saver = tf1.train.Saver(var_list=vs)
        with tf1.Session(graph=graph) as sess:
            for name, (r, _shape, _dtype) in owners.items():
                value = r.get_tensor(name)
                total += value.nbytes
                vs[name].load(value, sess)
                del value
            saver.save(sess, req["out"], write_meta_graph=False,
                       write_state=False)
    return {"seconds": time.perf_counter() - t, "bytes": total}


def main():
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the real stdout
    out.write(json.dumps({"ok": True, "ready": True, "import_seconds": IMPORT_SECONDS,
                          "tf_version": tf.__version__}) + "\n")
    out.flush()
    for line in sys.stdin:
        req = json.loads(line)
        if req["cmd"] == "quit":
            break
        try:
            if req["cmd"] == "restore":
                ans = cmd_restore(req)
            elif req["cmd"] == "merge":
                ans = cmd_merge(req)
            elif req["cmd"] == "setenv":
                for k, v in req["env"].items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
                ans = {}
            elif req["cmd"] == "register":
                tf.experimental.register_filesystem_plugin(req["plugin"])
                ans = {}
            else:
                raise ValueError(f"unknown command {req['cmd']!r}")
            ans["ok"] = True
        except Exception as e:  # reported to the driver, which fails the step
            ans = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(ans) + "\n")
        out.flush()
    if _restorer is not None:
        _restorer.close()


if __name__ == "__main__":
    main()
