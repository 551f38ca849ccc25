"""Crash durability of the API server: concurrent writers, good and bad, and a SIGKILL at a random
moment, round after round on the same data directory.

After every restart it checks, for every object a writer owns:
- an acknowledged write is there: the object is in its last acknowledged state, or in the state of
  the one write that was in flight when the server died (its outcome was never told);
- nothing unacknowledged is half there: every stored object's checksum matches its contents;
- resourceVersions only grow: the first write after the restart gets a resourceVersion above every
  one acknowledged before the kill;
- bad requests (name null, nesting past the limit, integers past int64, bad label keys) were refused
  with 4xx, never 5xx, and left nothing behind.

Prints the figures, writes ``benchmarks/results/crash_durability.md`` and exits 1 on any violation.
``tests/apiserver/test_crash_durability.py`` runs three rounds of it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from apiserver_harness import ServerProcess, machine

CM = "/api/v1/namespaces/default/configmaps"
JSON = {"content-type": "application/json"}
ABSENT = None  # the state of a name with no object


def checksum(name: str, version: int) -> str:
    return hashlib.sha256(f"{name}:{version}".encode()).hexdigest()[:16]


def configmap(name: str, version: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"writer": name.split("-")[0]}},
        "data": {"version": str(version), "checksum": checksum(name, version), "pad": "x" * 512},
    }


BAD_BODIES = [
    b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":null}}',
    b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad-int"},"data":{},"n":9223372036854775808}',
    b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad-label","labels":{"a b/c!":"v"}}}',
    b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad-deep"},"x":'
    + b'{"n":' * 300
    + b"1"
    + b"}" * 300
    + b"}",
    b'{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"bad-version"}}',
]


@dataclass
class Name:
    """What the writers know about one name: its acknowledged state and the write still in flight."""

    acked: int | None = ABSENT  # the acknowledged version, or ABSENT
    in_flight: tuple[int | None] | None = None  # (the version it would leave,) while a write is out
    exists: bool = False


@dataclass
class Tally:
    acked_writes: int = 0
    bad_refused: int = 0
    server_errors: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    phantom: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    rv_regressions: list[str] = field(default_factory=list)
    in_flight_at_kill: int = 0
    restarts: list[float] = field(default_factory=list)
    max_acked_rv: int = 0

    def violations(self) -> int:
        return sum(
            len(x) for x in (self.server_errors, self.lost, self.phantom, self.corrupt, self.rv_regressions)
        )


async def writer(
    session: aiohttp.ClientSession, url: str, names: dict[str, Name], tally: Tally, rng: random.Random
) -> None:
    """Write to its own names until the server dies under it."""
    owned = list(names)
    versions = {name: (names[name].acked or 0) for name in owned}
    while True:
        if rng.random() < 0.15:
            await bad_request(session, url, rng, tally)
            continue
        name = rng.choice(owned)
        state = names[name]
        versions[name] += 1
        version = versions[name]
        if not state.exists:
            method, target, body, after = "POST", f"{url}{CM}", configmap(name, version), version
        elif rng.random() < 0.2:
            method, target, body, after = "DELETE", f"{url}{CM}/{name}", None, ABSENT
        else:
            method, target, body, after = "PUT", f"{url}{CM}/{name}", configmap(name, version), version
        state.in_flight = (after,)
        async with session.request(
            method, target, data=orjson.dumps(body) if body else None, headers=JSON
        ) as r:
            answer = await r.read()
        if r.status >= 500:
            tally.server_errors.append(f"{method} {name}: {r.status} {answer[:200]!r}")
        elif r.status < 300:
            state.acked, state.exists = after, after is not ABSENT
            tally.acked_writes += 1
            if after is not ABSENT:
                tally.max_acked_rv = max(
                    tally.max_acked_rv, int(orjson.loads(answer)["metadata"]["resourceVersion"])
                )
        state.in_flight = None


async def bad_request(session: aiohttp.ClientSession, url: str, rng: random.Random, tally: Tally) -> None:
    body = rng.choice(BAD_BODIES)
    async with session.post(f"{url}{CM}", data=body, headers=JSON) as r:
        text = await r.read()
    if r.status >= 500:
        tally.server_errors.append(f"bad request answered {r.status}: {text[:200]!r}")
    elif 400 <= r.status < 500:
        tally.bad_refused += 1
    else:
        tally.server_errors.append(f"bad request accepted with {r.status}: {body[:80]!r}")


async def round_of_writes(
    url: str, names: dict[str, Name], writers: int, tally: Tally, rng: random.Random
) -> None:
    """Run the writers until the server is killed under them."""
    groups = [dict(list(names.items())[i::writers]) for i in range(writers)]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        tasks = [
            asyncio.create_task(writer(session, url, group, tally, random.Random(rng.random())))
            for group in groups
        ]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.ALL_COMPLETED)
        for task in done:
            error = task.exception()
            if not isinstance(error, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
                raise error if error is not None else RuntimeError("a writer stopped while the server ran")


async def verify(url: str, names: dict[str, Name], tally: Tally) -> None:
    """Compare what the restarted server holds with what the writers were told."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}{CM}") as r:
            listed = orjson.loads(await r.read())
        stored = {
            item["metadata"]["name"]: item
            for item in listed["items"]
            if "writer" in item["metadata"].get("labels", {})
        }
        for name, state in names.items():
            obj = stored.get(name)
            held = int(obj["data"]["version"]) if obj is not None else ABSENT
            if obj is not None and obj["data"].get("checksum") != checksum(name, held or 0):
                tally.corrupt.append(f"{name}: checksum does not match version {held}")
            allowed = {state.acked} | ({state.in_flight[0]} if state.in_flight is not None else set())
            if held not in allowed:
                target = (
                    tally.lost
                    if held is ABSENT or (state.acked is not ABSENT and held < state.acked)
                    else tally.phantom
                )
                target.append(
                    f"{name}: holds {held}, acknowledged {state.acked}, in flight {state.in_flight}"
                )
            if state.in_flight is not None:
                tally.in_flight_at_kill += 1
            # The outcome is now known: the next round starts from what the server holds.
            state.acked, state.exists, state.in_flight = held, held is not ABSENT, None
        for bad in ("bad-int", "bad-label", "bad-deep", "bad-version"):
            if bad in {item["metadata"]["name"] for item in listed["items"]}:
                tally.phantom.append(f"{bad}: a refused request left an object behind")
        probe = configmap("probe-rv", int(time.time()))
        async with session.post(f"{url}{CM}", data=orjson.dumps(probe), headers=JSON) as r:
            created = orjson.loads(await r.read())
        rv = int(created["metadata"]["resourceVersion"])
        if rv <= tally.max_acked_rv:
            tally.rv_regressions.append(f"new write got rv {rv}, already acknowledged {tally.max_acked_rv}")
        async with session.delete(f"{url}{CM}/probe-rv") as r:
            await r.read()


async def run(rounds: int, writers: int, names_per_writer: int, seed: int, workdir: Path) -> Tally:
    rng = random.Random(seed)
    names = {f"w{w}-{i}": Name() for w in range(writers) for i in range(names_per_writer)}
    tally = Tally()
    for _ in range(rounds):
        started = time.perf_counter()
        server = ServerProcess(workdir, profile=None)
        tally.restarts.append(time.perf_counter() - started)
        loop = asyncio.get_running_loop()
        delay = rng.uniform(0.3, 1.5)
        loop.call_later(delay, server.process.send_signal, signal.SIGKILL)
        await round_of_writes(server.url, names, writers, tally, rng)
        server.process.wait(timeout=10)
        server.log.close()
        (workdir / "kubeconfig").unlink(missing_ok=True)
        server = ServerProcess(workdir, profile=None)
        try:
            await verify(server.url, names, tally)
        finally:
            server.stop()
        (workdir / "kubeconfig").unlink(missing_ok=True)
    return tally


def report(tally: Tally, rounds: int, writers: int, out: Path) -> str:
    restart = sorted(tally.restarts)[len(tally.restarts) // 2]
    rows = [
        ("rounds (SIGKILL at a random moment)", rounds),
        ("concurrent writers", writers),
        ("acknowledged writes", tally.acked_writes),
        ("writes in flight at a kill (either outcome allowed)", tally.in_flight_at_kill),
        ("bad requests refused with 4xx", tally.bad_refused),
        ("acknowledged writes lost", len(tally.lost)),
        ("unacknowledged or refused writes present", len(tally.phantom)),
        ("objects failing their checksum", len(tally.corrupt)),
        ("resourceVersion regressions", len(tally.rv_regressions)),
        ("5xx answers", len(tally.server_errors)),
        ("median start to ready after a kill", f"{restart:.2f} s"),
    ]
    lines = [
        "# API server crash durability",
        "",
        f"`python benchmarks/crash_durability.py --rounds {rounds} --writers {writers}`",
        "",
        *machine(),
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {label} | {value} |" for label, value in rows),
        "",
    ]
    details = tally.lost + tally.phantom + tally.corrupt + tally.rv_regressions + tally.server_errors
    if details:
        lines += ["Violations:", "", *(f"- {d}" for d in details[:50]), ""]
    text = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--names", type=int, default=8, help="names per writer")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "crash_durability.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="infleet-crash-"))
    try:
        tally = asyncio.run(run(args.rounds, args.writers, args.names, args.seed, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(report(tally, args.rounds, args.writers, args.out))
    return 1 if tally.violations() else 0


if __name__ == "__main__":
    sys.exit(main())
