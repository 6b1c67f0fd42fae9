"""`ckptfs ...` and `python -m ckptfs ...`: the bundled ckptfs command."""

from __future__ import annotations

import os
import sys

from ._api import binary


def main() -> None:
    """Replace this process with the bundled ckptfs binary, arguments unchanged."""
    path = binary()
    # argv[0] "ckptfs": the command reads its own name (mount.ckptfs)
    os.execv(path, ["ckptfs", *sys.argv[1:]])


if __name__ == "__main__":
    main()
