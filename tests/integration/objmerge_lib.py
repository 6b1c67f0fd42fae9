"""Helpers shared by the tests of merges by object (test_tf2_objects.py,
test_tf1_into_objects.py): TensorFlow's keys for a structure, and one check
run against every way a merge is read (mount, TensorFlow plugin, both materialized
copies)."""

from __future__ import annotations

from pylib import mounting

GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
LAYOUTS = ["single", "shards"]


def keys(tf, prefix: str) -> set[str]:
    return {k for k, _ in tf.train.list_variables(prefix) if k != GRAPH_KEY}


def expected_keys(tf, structure, tmp_path) -> set[str]:
    """What TensorFlow itself writes for the merged structure."""
    return keys(tf, structure.write(str(tmp_path / "oracle" / "ckpt")))


def restore_both_ways(tf, ckptfs_bin, mapping, tmp_path, layout, check):
    """check(prefix) against the mount, through the TensorFlow plugin and against both
    materialized copies."""
    with mounting.mounted(ckptfs_bin, mapping, str(tmp_path / "mnt"), "-o",
                          f"layout={layout}") as m:
        check(m.join("model.ckpt"))
    conf = tmp_path / f"plugin-{layout}.conf"
    conf.write_text(open(mapping).read() + f"layout = {layout}\n")
    check("ckptfs://" + str(conf.resolve()) + "/model.ckpt")
    for mode in ([], ["--link"]):
        out = tmp_path / ("link" if mode else "copy") / "model.ckpt"
        out.parent.mkdir()
        r = mounting.run_cmd([ckptfs_bin, "materialize", *mode, mapping, str(out)])
        assert r.rc == 0, r.describe()
        check(str(out))
