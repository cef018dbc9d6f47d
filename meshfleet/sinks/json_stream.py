"""JSON text handed out slice by slice as it is encoded, byte for byte what `json.dumps(value, indent=2)`
gives, plus a final newline.

Why: `plan --format json` of a 100k-object fleet is over 200 MiB of text. Built whole before being
written, that text and the encoder's pieces held four times the plan's own memory; written in slices,
the peak stays at the plan plus one slice, and the bytes do not change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import islice
from typing import Any

SLICE = 8192
"""Encoder pieces joined per write: large enough that writes cost nothing, small enough to hold."""


def write_json(value: Any, write: Callable[[str], object], *, indent: int = 2) -> None:
    """Encode `value` as `json.dumps(value, indent=indent)` would, passing the text to `write` in
    slices, then a newline."""
    pieces = json.JSONEncoder(indent=indent).iterencode(value)
    while batch := list(islice(pieces, SLICE)):
        write("".join(batch))
    write("\n")
