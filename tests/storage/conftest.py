"""Storages in a sandbox root, for each format."""

from __future__ import annotations

import pytest

from labserver.config.resolve import PathResolver
from labserver.storage import Namespace, parse_location, storage_for_location

LOCATIONS = {
    "maildir": "maildir:~/Maildir",
    "maildir-fs": "maildir:~/Maildir:LAYOUT=fs",
    "mbox": "mbox:~/mail:INBOX=/var/mail/%u",
}


def make_storage(root, kind: str, separator: str = "/", user: str = "alice"):
    loc = parse_location(LOCATIONS[kind], user=user, home=f"/home/{user}")
    storage = storage_for_location(loc, PathResolver(root), Namespace(separator=separator),
                                   user=user)
    storage.ensure_inbox()
    return storage


@pytest.fixture(params=list(LOCATIONS))
def storage(request, tmp_path):
    return make_storage(tmp_path, request.param)
