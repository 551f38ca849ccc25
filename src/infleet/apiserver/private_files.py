"""State that holds Secrets and credentials is readable by its owner only: 0700 directories, 0600 files.

Applied on every start, so a state directory created by an older version (or by a umask of 022) is
tightened too. kube-apiserver leaves this to the operator (etcd's data dir is 0700 by etcd's own check);
an embedded server that creates its own state has to do it itself.
"""

from __future__ import annotations

import os
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it owner-only."""
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    os.chmod(path, DIRECTORY_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it is missing, else make it 0600; its directory private."""
    private_directory(path.parent)
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(descriptor)
    os.chmod(path, FILE_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically to a 0600 file (a temporary beside it, then rename)."""
    temporary = private_file(path.with_name(path.name + ".tmp"))
    temporary.write_bytes(data)
    temporary.replace(path)
