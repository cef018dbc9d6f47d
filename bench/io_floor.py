"""The render's I/O floor: a rendered tree's exact bytes written to the same files of a new directory,
then one `syncfs` of that filesystem, as `meshfleet render` makes its staged tree durable.

Run as a script (`python bench/io_floor.py PACK OUT`), so that the floor is a whole process too and
pays for its own interpreter start-up, nothing more: no YAML, no plan, no meshfleet import (not even
`typing` or `pathlib`). `pack`
(run before the timing) gathers the rendered tree into PACK.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import marshal
import os
import sys


def pack(tree: str | os.PathLike[str], dest: str | os.PathLike[str]) -> int:
    """Every file under `tree` (the marker and kustomizations included) as (relative path, bytes), in
    the order a walk finds them; returns the bytes packed."""
    entries: list[tuple[str, bytes]] = []
    for d, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(d, name)
            with open(path, "rb") as fh:
                entries.append((os.path.relpath(path, tree), fh.read()))
    with open(dest, "wb") as fh:
        marshal.dump(entries, fh)
    return sum(len(data) for _, data in entries)


def _syncfs(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        libc_name = ctypes.util.find_library("c")
        syncfs = getattr(ctypes.CDLL(libc_name, use_errno=True), "syncfs", None) if libc_name else None
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def write(pack_path: str, out: str) -> None:
    with open(pack_path, "rb") as fh:
        entries: list[tuple[str, bytes]] = marshal.load(fh)
    os.mkdir(out)
    made = {out}
    for rel, data in entries:
        path = os.path.join(out, rel)
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(path, "wb") as fh:
            fh.write(data)
    _syncfs(out)


if __name__ == "__main__":
    write(sys.argv[1], sys.argv[2])
