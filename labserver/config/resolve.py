"""One place where configuration paths meet the file system: the sandbox root.

A learner writes realistic absolute paths (``/etc/dovecot/conf.d/*.conf``,
``</etc/dovecot/private/dovecot.pem``, ``/var/mail/%u``). The lab maps each of them
into its own directory, as if that directory were ``/``: ``..`` cannot climb above
it, and a symbolic link inside it that points to an absolute path is followed inside
the root too (the way ``chroot`` would see it). With no root (``--root /``) paths
are used as they are, which is how the lab is compared with real Dovecot.
"""

from __future__ import annotations

import glob as _glob
import os
import posixpath
import re
from pathlib import Path

_MAX_SYMLINKS = 40
LOOP_NAME = ".too-many-symbolic-links"


class PathResolver:
    """Maps configuration (virtual) paths to real paths and back."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        if root is not None and os.path.realpath(root) == "/":
            root = None
        self.root = None if root is None else Path(os.path.realpath(root))

    def __repr__(self) -> str:
        return f"PathResolver(root={str(self.root) if self.root else '/'!r})"

    def real(self, path: str) -> str:
        """The real path for a configuration path. Under a root, a relative path is taken
        from the root as well: through the process's working directory it would reach
        the real file system (``../../etc/shadow``)."""
        if self.root is None:
            return path
        return str(self._walk(path if path.startswith("/") else "/" + path))

    def virtual(self, real: str) -> str:
        """The configuration path for a real path under the root."""
        if self.root is None:
            return real
        rel = os.path.relpath(os.path.realpath(real), self.root)
        if rel == ".":
            return "/"
        if rel.startswith(".."):
            raise ValueError(f"{real} is outside the lab root")
        return "/" + rel

    def _walk(self, path: str) -> Path:
        assert self.root is not None
        parts = [p for p in posixpath.normpath(path).split("/") if p not in ("", ".")]
        current = self.root
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if current != self.root:
                    current = current.parent
                continue
            candidate = current / part
            if _is_symlink(candidate):
                hops += 1
                if hops > _MAX_SYMLINKS:
                    # The kernel would go on following the chain, maybe out of the root:
                    # stop at a name inside it that is not there (the file is "missing").
                    return self.root / LOOP_NAME
                target = os.readlink(candidate)
                if target.startswith("/"):
                    current = self.root
                new = [p for p in target.split("/") if p not in ("", ".")]
                parts = new + parts
                continue
            current = candidate
        return current

    def glob(self, pattern: str) -> list[str]:
        """Expand a glob with ``{a,b}`` braces; matches as configuration paths, sorted."""
        results: set[str] = set()
        for expanded in _expand_braces(pattern):
            head, tail = posixpath.split(expanded)
            if _glob.has_magic(head):
                matches = [self.virtual(m) if self.root else m
                           for m in _glob.glob(self.real_pattern(expanded))]
            else:
                real_dir = self.real(head) if head else "."
                names = _glob.glob1(real_dir, tail) if _glob.has_magic(tail) else (
                    [tail] if os.path.lexists(os.path.join(real_dir, tail)) else [])
                matches = [posixpath.join(head, n) if head else n for n in names]
            results.update(matches)
        return sorted(results)

    def real_pattern(self, pattern: str) -> str:
        """A pattern whose fixed leading directories are mapped into the root."""
        if self.root is None or not pattern.startswith("/"):
            return pattern
        parts = pattern.split("/")
        fixed = []
        for part in parts[1:]:
            if _glob.has_magic(part):
                break
            fixed.append(part)
        rest = parts[1 + len(fixed):]
        return "/".join([self.real("/" + "/".join(fixed))] + rest)


def _is_symlink(path: Path) -> bool:
    """A name the file system refuses (too long, say) is no symlink: opening it later
    fails with that error, which the caller reports in Dovecot's words."""
    try:
        return path.is_symlink()
    except OSError:
        return False


_BRACE = re.compile(r"\{([^{}]*)\}")


def _expand_braces(pattern: str) -> list[str]:
    m = _BRACE.search(pattern)
    if m is None or "," not in m.group(1):
        return [pattern]
    out = []
    for alt in m.group(1).split(","):
        out.extend(_expand_braces(pattern[:m.start()] + alt + pattern[m.end():]))
    return out
