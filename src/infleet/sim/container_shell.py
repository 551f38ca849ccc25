"""The commands ``kubectl exec`` can run in a simulated container, and a small ``sh`` to sequence them.

A simulated container has no processes, so exec runs what a user tries first in an engine container:
``env``, ``printenv``, ``cat``, ``ls``, ``echo``, ``hostname``, ``pwd``, ``whoami``, ``id``, ``date``,
``sleep``, ``true``, ``false``, ``nvidia-smi`` (the pod's GPUs), ``tar cf -`` (what ``kubectl cp`` runs
to copy out of a pod), ``curl`` to the pod's own ports (which reach its simulated engine), and
``sh -c`` / ``bash -c`` scripts of those joined by ``;``, ``&&``, ``||`` with ``$VAR`` and ``exit N``.
``sh`` without ``-c`` reads commands from stdin, as an interactive shell with a prompt under ``-t``.
Anything else ends with a message on stderr naming what is available, and exit code 127.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from infleet.sim.container_curl import curl
from infleet.sim.container_gpus import nvidia_smi
from infleet.sim.container_tar import tar
from infleet.sim.container_view import ContainerView

Write = Callable[[bytes], Awaitable[None]]
_VARIABLE = re.compile(r"\$(?:\{(\w+|\?)\}|(\w+|\?))")
_SHELLS = frozenset({"sh", "bash", "ash", "dash"})


@dataclass
class ShellIO:
    """Where a command reads and writes; ``stdin`` yields chunks and then None at end of input."""

    stdout: Write
    stderr: Write
    stdin: asyncio.Queue[bytes | None] | None = None
    tty: bool = False


class _ExitRequestError(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _segments(script: str) -> list[tuple[str, str]]:
    """Split at ``;``, newlines, ``&&`` and ``||`` outside quotes: (operator before, command text)."""
    parts: list[tuple[str, str]] = []
    operator, current, quote, index = ";", "", "", 0
    while index < len(script):
        char = script[index]
        if quote:
            quote = "" if char == quote else quote
            current += char
        elif char in "'\"":
            quote, current = char, current + char
        elif script.startswith(("&&", "||"), index):
            parts.append((operator, current))
            operator, current = script[index : index + 2], ""
            index += 1
        elif char in ";\n":
            parts.append((operator, current))
            operator, current = ";", ""
        else:
            current += char
        index += 1
    parts.append((operator, current))
    return [(op, text) for op, text in parts if text.strip()]


def _outside_quotes(text: str) -> str:
    kept, quote = [], ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        else:
            kept.append(char)
    return "".join(kept)


class ContainerShell:
    """Runs commands against one :class:`ContainerView`."""

    def __init__(self, view: ContainerView) -> None:
        self.view = view
        self.status = 0
        self.commands: dict[str, Callable[[list[str], ShellIO], Awaitable[int]]] = {
            "cat": self._cat,
            "curl": self._curl,
            "date": self._date,
            "echo": self._echo,
            "env": self._env,
            "false": self._false,
            "hostname": self._hostname,
            "id": self._id,
            "ls": self._ls,
            "nvidia-smi": self._nvidia_smi,
            "printenv": self._printenv,
            "pwd": self._pwd,
            "sleep": self._sleep,
            "tar": self._tar,
            "true": self._true,
            "whoami": self._whoami,
        }

    def available(self) -> str:
        return ", ".join([*sorted(self.commands), "exit", "sh -c", "bash -c"])

    async def run(self, argv: list[str], io: ShellIO) -> int:
        """Run one command (an exec's argv); returns its exit code."""
        try:
            self.status = await self._command(argv, io)
        except _ExitRequestError as exit_request:
            self.status = exit_request.code
        return self.status

    async def _command(self, argv: list[str], io: ShellIO) -> int:
        if not argv:
            await io.stderr(b"exec: no command given\n")
            return 127
        name = argv[0].rsplit("/", 1)[-1]
        if name in _SHELLS:
            return await self._shell(name, argv[1:], io)
        if name == "exit":
            raise _ExitRequestError(
                int(argv[1]) & 0xFF if len(argv) > 1 and argv[1].lstrip("-").isdigit() else 0
            )
        command = self.commands.get(name)
        if command is None:
            message = (
                f"command {argv[0]!r} is not available in a simulated container; "
                f"available: {self.available()}\n"
            )
            await io.stderr(message.encode())
            return 127
        return await command(argv[1:], io)

    # -- sh -------------------------------------------------------------------------------------------

    async def _shell(self, name: str, args: list[str], io: ShellIO) -> int:
        if args[:1] == ["-c"] and len(args) > 1:
            return await self.script(args[1], io, name)
        if args:
            await io.stderr(
                f"{name}: only '{name} -c <script>' or commands on stdin are simulated\n".encode()
            )
            return 2
        return await self._interactive(name, io)

    async def script(self, script: str, io: ShellIO, shell: str = "sh") -> int:
        """Run a script; ``exit`` ends it (the exception carries the code to the outer command)."""
        for operator, text in _segments(script):
            if (operator == "&&" and self.status != 0) or (operator == "||" and self.status == 0):
                continue
            if any(char in "|<>" for char in _outside_quotes(text)):
                await io.stderr(
                    f"{shell}: pipes and redirections are not available in a simulated container\n".encode()
                )
                self.status = 2
                continue
            expanded = _VARIABLE.sub(
                lambda m: str(self.status) if (m[1] or m[2]) == "?" else self.view.env.get(m[1] or m[2], ""),
                text,
            )
            try:
                argv = shlex.split(expanded)
            except ValueError as error:
                await io.stderr(f"{shell}: syntax error: {error}\n".encode())
                self.status = 2
                continue
            self.status = await self._command(argv, io)
        return self.status

    async def _interactive(self, name: str, io: ShellIO) -> int:
        if io.stdin is None:
            return 0
        prompt = f"root@{self.view.pod}:{self.view.working_dir}# ".encode() if io.tty else b""
        line = ""
        await io.stdout(prompt)
        while (chunk := await io.stdin.get()) is not None:
            for char in chunk.decode("utf-8", "replace"):
                if char in "\r\n":
                    await io.stdout(b"\n" if io.tty else b"")
                    try:
                        await self.script(line, io, name)
                    except _ExitRequestError as exit_request:
                        return exit_request.code
                    line = ""
                    await io.stdout(prompt)
                    continue
                edited = await self._edit(line, char, io, prompt) if io.tty else line + char
                if edited is None:
                    await io.stdout(b"exit\n")
                    return self.status
                line = edited
        if line.strip():
            await self.script(line, io, name)
        return self.status

    @staticmethod
    async def _edit(line: str, char: str, io: ShellIO, prompt: bytes) -> str | None:
        """A terminal's line editing in raw mode: echo, backspace, ^C; None for ^D on an empty line."""
        if char in "\x7f\b":
            if line:
                await io.stdout(b"\b \b")
            return line[:-1]
        if char == "\x03":
            await io.stdout(b"^C\n" + prompt)
            return ""
        if char == "\x04":
            return line or None
        if char.isprintable():
            await io.stdout(char.encode())
            return line + char
        return line

    # -- commands -------------------------------------------------------------------------------------

    async def _cat(self, args: list[str], io: ShellIO) -> int:
        status = 0
        for arg in [a for a in args if a != "-u"] or ["-"]:
            if arg == "-":
                while io.stdin is not None and (chunk := await io.stdin.get()) is not None:
                    await io.stdout(chunk)
                continue
            path = self.view.resolve(arg)
            if path in self.view.files:
                await io.stdout(self.view.files[path].encode())
            else:
                reason = "Is a directory" if self.view.is_dir(path) else "No such file or directory"
                await io.stderr(f"cat: {arg}: {reason}\n".encode())
                status = 1
        return status

    async def _ls(self, args: list[str], io: ShellIO) -> int:
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        paths = [a for a in args if not a.startswith("-")] or ["."]
        status = 0
        for number, arg in enumerate(paths):
            path = self.view.resolve(arg)
            if path in self.view.files:
                await io.stdout(f"{arg}\n".encode())
                continue
            if not self.view.is_dir(path):
                await io.stderr(f"ls: cannot access '{arg}': No such file or directory\n".encode())
                status = 2
                continue
            names = self.view.listing(path)
            if "a" in flags:
                names = [".", "..", *names]
            if len(paths) > 1:
                await io.stdout(f"{'' if number == 0 else chr(10)}{arg}:\n".encode())
            if "l" in flags:
                lines = []
                for entry in names:
                    full = self.view.resolve(f"{path}/{entry}")
                    size = len(self.view.files.get(full, "").encode())
                    mode = "-rw-r--r--" if full in self.view.files else "drwxr-xr-x"
                    lines.append(f"{mode} 1 root root {size:>6} Jan  1 00:00 {entry}\n")
                await io.stdout(f"total {len(lines)}\n{''.join(lines)}".encode())
            else:
                await io.stdout("".join(f"{entry}\n" for entry in names).encode())
        return status

    async def _echo(self, args: list[str], io: ShellIO) -> int:
        newline = args[:1] != ["-n"]
        await io.stdout((" ".join(args if newline else args[1:]) + ("\n" if newline else "")).encode())
        return 0

    async def _env(self, args: list[str], io: ShellIO) -> int:
        if args:
            await io.stderr(b"env: running a command under env is not simulated; run it directly\n")
            return 125
        await io.stdout("".join(f"{k}={v}\n" for k, v in self.view.env.items()).encode())
        return 0

    async def _printenv(self, args: list[str], io: ShellIO) -> int:
        if not args:
            return await self._env([], io)
        found = [self.view.env[name] for name in args if name in self.view.env]
        await io.stdout("".join(f"{value}\n" for value in found).encode())
        return 0 if len(found) == len(args) else 1

    async def _hostname(self, args: list[str], io: ShellIO) -> int:
        answer = self.view.pod_ip if "-i" in args or "-I" in args else self.view.pod
        await io.stdout(f"{answer}\n".encode())
        return 0

    async def _pwd(self, _: list[str], io: ShellIO) -> int:
        await io.stdout(f"{self.view.working_dir}\n".encode())
        return 0

    async def _whoami(self, _: list[str], io: ShellIO) -> int:
        await io.stdout(b"root\n")
        return 0

    async def _id(self, _: list[str], io: ShellIO) -> int:
        await io.stdout(b"uid=0(root) gid=0(root) groups=0(root)\n")
        return 0

    async def _date(self, _: list[str], io: ShellIO) -> int:
        await io.stdout(datetime.now(UTC).strftime("%a %b %d %H:%M:%S UTC %Y\n").encode())
        return 0

    async def _sleep(self, args: list[str], io: ShellIO) -> int:
        try:
            seconds = float(args[0].rstrip("s")) if args else -1.0
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            await io.stderr(b"sleep: missing or invalid operand\n")
            return 1
        await asyncio.sleep(seconds)
        return 0

    async def _true(self, _: list[str], io: ShellIO) -> int:
        return 0

    async def _false(self, _: list[str], io: ShellIO) -> int:
        return 1

    async def _curl(self, args: list[str], io: ShellIO) -> int:
        return await curl(self.view, args, io.stdout, io.stderr)

    async def _nvidia_smi(self, args: list[str], io: ShellIO) -> int:
        return await nvidia_smi(self.view.gpus, args, io.stdout, io.stderr)

    async def _tar(self, args: list[str], io: ShellIO) -> int:
        return await tar(self.view, args, io.stdout, io.stderr)
