"""The version of this package: the ckptfs it bundles (CMakeLists.txt's)."""

from __future__ import annotations

from importlib import metadata

try:
    __version__: str = metadata.version("ckptfs")
except metadata.PackageNotFoundError:  # imported from a source tree
    __version__ = "0+unknown"
