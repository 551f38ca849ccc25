"""``tar cf - PATH...`` inside a simulated container: what ``kubectl cp POD:PATH DEST`` runs to copy out.

Members are named as GNU tar names them (the leading ``/`` dropped), which is what kubectl expects when it
unpacks. Copying into a pod (``tar x``) is refused: a simulated container's files are read-only.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Awaitable, Callable

from infleet.sim.container_view import ContainerView

Write = Callable[[bytes], Awaitable[None]]


def _add(archive: tarfile.TarFile, view: ContainerView, path: str) -> None:
    name = path.lstrip("/")
    if path in view.files:
        data = view.files[path].encode()
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        archive.addfile(info, io.BytesIO(data))
        return
    if name:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(info)
    for entry in view.listing(path):
        _add(archive, view, f"{path.rstrip('/')}/{entry}")


async def tar(view: ContainerView, args: list[str], stdout: Write, stderr: Write) -> int:
    mode = args[0].lstrip("-") if args else ""
    if "x" in mode:
        await stderr(
            b"tar: the files of a simulated container are read-only; copying into the pod is not available\n"
        )
        return 2
    if "c" not in mode or "f" not in mode or len(args) < 3 or args[1] != "-":
        await stderr(
            b"tar: only 'tar cf - PATH...' (what kubectl cp runs to copy out of a pod) is simulated\n"
        )
        return 2
    buffer, status = io.BytesIO(), 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for arg in args[2:]:
            path = view.resolve(arg)
            if path in view.files or view.is_dir(path):
                _add(archive, view, path)
            else:
                await stderr(f"tar: {arg}: Cannot stat: No such file or directory\n".encode())
                status = 2
    if status:
        await stderr(b"tar: Exiting with failure status due to previous errors\n")
    await stdout(buffer.getvalue())
    return status
