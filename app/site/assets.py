"""The site's own static file: site.js (countdowns, one submit per form), served by the site host at
/_site.js so that published pages load it from their own origin (CSP script-src 'self')."""
import hashlib
import os
from functools import lru_cache

from flask import current_app

from app.builder.render import site_script_path

LONG_CACHE = "public, max-age=31536000, immutable"  # the URL carries the file's hash (?v=...)


@lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def site_script_file() -> str:
    return os.path.join(current_app.static_folder, site_script_path())


def site_script() -> bytes:
    path = site_script_file()
    return _read(path, os.path.getmtime(path))


def site_script_version() -> str:
    return hashlib.sha256(site_script()).hexdigest()[:12]
