"""Mapping files as the tests write them (docs/mapping.md).

``write_mapping(path, {name: path}, lines)`` writes a ``source NAME = PATH`` line per
source, then the other lines (``mapping_lines`` gives them as a list, for a test that counts
line numbers); ``map_each(names)`` gives the lines that put every source under a directory
of its name (``map a:/ -> a/``).
"""

from __future__ import annotations

import os


def mapping_lines(sources: dict, lines=(), comment: str | None = None) -> list[str]:
    """``# comment`` first if given, a ``source NAME = PATH`` line per item of sources, then
    lines."""
    text = [f"# {comment}"] if comment is not None else []
    text += [f"source {n} = {p}" for n, p in sources.items()]
    return text + list(lines)


def write_mapping(path, sources: dict, lines=(), *, comment: str | None = None,
                  mode: int | None = None) -> str:
    """Write the mapping file path, mapping_lines(sources, lines, comment) one a line;
    chmod it to mode if given. Returns the path as a str."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(mapping_lines(sources, lines, comment)) + "\n")
    if mode is not None:
        os.chmod(path, mode)
    return str(path)


def map_each(names) -> list[str]:
    """``map NAME:/ -> NAME/`` for each name: every source under a directory of its name."""
    return [f"map {n}:/ -> {n}/" for n in names]
