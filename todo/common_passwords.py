"""Passwords too common to accept: a list shipped as data, read on first use.

The list is Django's (20,000 common passwords by Royce Williams), cut to the entries long
enough to pass the length rule; `common-passwords.LICENSE` beside this file says where it
comes from and under what license. Reading it takes ~20-40 ms and 1.5 MB, so it
happens at the first registration, not when a function is imported.
"""

from __future__ import annotations

import functools
from importlib import resources

LIST_FILE = "common-passwords.txt.gz"


@functools.cache
def _common() -> frozenset[str]:
    import gzip

    raw = resources.files("todo").joinpath(LIST_FILE).read_bytes()
    return frozenset(gzip.decompress(raw).decode().splitlines())


def is_common(password: str) -> bool:
    """Compared as Django does: case and surrounding spaces do not make a password rare."""
    return password.strip().lower() in _common()
