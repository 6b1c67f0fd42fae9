"""ckptfs: TensorFlow checkpoints merged from others, without copying.

A mapping file says which tensors of which source checkpoints make the merge
(see the README's "Mapping files"). This package runs the ckptfs command it
bundles and loads the TensorFlow plugin it bundles:

    import ckptfs, tensorflow as tf
    ckptfs.check("merge.conf")              # resolve it; MappingError if wrong
    ckptfs.register_tensorflow()            # ckptfs:// in this TensorFlow
    reader = tf.train.load_checkpoint(ckptfs.uri("merge.conf"))

    with ckptfs.mount("merge.conf", "merged"):   # root or fusermount3
        tf.train.load_checkpoint("merged")

Errors raise CkptfsError (MappingError for a mapping file's mistake, at its
file, line and column; TensorFlowError when the plugin cannot be loaded).
"""

from __future__ import annotations

from ._api import (
    CheckResult,
    CkptfsError,
    DataFile,
    Mount,
    MappingError,
    Source,
    Tensor,
    TensorFlowError,
    binary,
    check,
    ls,
    materialize,
    mount,
    register_tensorflow,
    tf_plugin,
    uri,
)
from ._version import __version__

__all__ = [
    "CheckResult",
    "CkptfsError",
    "DataFile",
    "MappingError",
    "Mount",
    "Source",
    "Tensor",
    "TensorFlowError",
    "__version__",
    "binary",
    "check",
    "ls",
    "materialize",
    "mount",
    "register_tensorflow",
    "tf_plugin",
    "uri",
]
