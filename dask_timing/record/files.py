"""Result files on disk: atomic writes that never clobber, and fast whole-file reads."""

from __future__ import annotations

import json
import os
from typing import Any, Sequence


def unused_path(folder: str, stem: str, extension: str) -> str:
    """``folder/stem.ext``, or ``stem-1.ext``, ``stem-2.ext``... if it exists: nothing is overwritten."""
    return unused_paths(folder, stem, [extension])[0]


def unused_paths(folder: str, stem: str, suffixes: Sequence[str]) -> list[str]:
    """``folder/stem`` with each suffix, or with ``stem-1``, ``stem-2``... the first stem none of whose paths
    exists: a set of files (the pages of a plot) named alike, none over another file."""
    candidate, index = stem, 0
    while True:
        paths = [os.path.join(folder, candidate + suffix) for suffix in suffixes]
        if not any(map(os.path.exists, paths)):
            return paths
        index += 1
        candidate = f"{stem}-{index}"


def write_json(path: str, document: dict[str, Any], overwrite: bool = False) -> None:
    """Write ``document`` as indented JSON to ``path`` (see ``write_text``)."""
    write_text(path, json.dumps(document, indent=2) + "\n", overwrite)


def write_text(path: str, text: str, overwrite: bool = False) -> None:
    """Write ``text`` to ``path`` in UTF-8 (see ``write_bytes``)."""
    write_bytes(path, text.encode("utf-8"), overwrite)


def write_bytes(path: str, data: bytes, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically, its folder created, never replacing a file unless asked.

    The data goes to a temporary file in the same folder first, so a reader
    never sees half a file and an interrupted write leaves nothing behind.  The
    file gets the permissions the user's umask gives any new file (results are
    meant to be shared), not the private ones of a temporary file.
    """
    import tempfile  # here, not at the top: the analyzer's text summary never writes

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".dask-timing-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            os.fchmod(stream.fileno(), 0o666 & ~_umask())
        if overwrite:
            os.replace(temporary, path)
        else:
            _publish_new(temporary, path)
    except OSError as error:
        if error.errno is None or error.filename is not None:
            raise
        raise OSError(error.errno, error.strerror, path) from None  # a full disk, say: name the file it was for
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _publish_new(temporary: str, path: str) -> None:
    """Give the written file its name, failing if that name exists: no clobbering."""
    try:
        os.link(temporary, path)
        return
    except FileExistsError:
        raise FileExistsError(f"{path} already exists; it was left as it was") from None
    except OSError:  # a file system without hard links: claim the name first, then fill it
        pass
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        raise FileExistsError(f"{path} already exists; it was left as it was") from None
    os.replace(temporary, path)


def _umask() -> int:
    """This process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Result files are a few kilobytes: one read of this size takes a whole file.
_READ_SIZE = 1 << 16
# No result, summary or manifest comes near this (an hour of memory samples is about
# 1 MB): a larger file is refused rather than read into memory.
MAX_DOCUMENT_BYTES = 64 << 20


class DocumentTooLarge(OSError):
    """A file far larger than any document the tools write."""


def read_bytes(path: str) -> bytes:
    """A file's bytes with the fewest system calls (open, read, close).

    ``open(path, 'rb').read()`` adds an fstat, an ioctl and a seek per file,
    which is a third more time when the analyzer reads thousands of files.
    """
    descriptor = os.open(path, os.O_RDONLY)
    try:
        data = os.read(descriptor, _READ_SIZE)
        if len(data) < _READ_SIZE:  # a short read of a regular file is its end
            return data
        size = os.fstat(descriptor).st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentTooLarge(f"{size / 2**20:.0f} MiB, larger than any file the tools write")
        chunks = [data]
        while chunk := os.read(descriptor, _READ_SIZE):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


