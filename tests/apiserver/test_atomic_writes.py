"""Writes are atomic per request: memory is always what the disk holds, one bad write fails nobody else."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.apiserver.storage import Change, ObjectStore, UnstorableObjectError

CM = "/api/v1/namespaces/default/configmaps"


def configmap(name: Any, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_a_malformed_create_among_concurrent_good_ones_fails_alone(tmp_path: Path) -> None:
    settings = APIServerSettings(port=0, data_dir=tmp_path, tls=False)
    server = EmbeddedAPIServer(settings)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.cluster_url("hub")) as api:
            bodies = [configmap(f"good-{i}") for i in range(20)]
            bodies.insert(7, configmap(None))
            answers = await asyncio.gather(*(api.post(CM, json=body) for body in bodies))
            codes = [answer.status_code for answer in answers]
            assert codes.count(201) == 20, codes
            assert 400 <= codes[7] < 500, answers[7].text
            assert answers[7].json()["kind"] == "Status"
            listed = await api.get(CM)
            assert listed.status_code == 200
            names = {item["metadata"]["name"] for item in listed.json()["items"]}
            assert names == {f"good-{i}" for i in range(20)}
    finally:
        await server.stop()
    server = EmbeddedAPIServer(settings)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.cluster_url("hub")) as api:
            after = {item["metadata"]["name"] for item in (await api.get(CM)).json()["items"]}
        assert after == names, "every acknowledged create survives a restart"
    finally:
        await server.stop()


def test_an_object_that_cannot_be_encoded_changes_nothing(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "db", on_commit=lambda changes: None)
    store.open()
    try:
        deep: dict[str, Any] = {}
        node = deep
        for _ in range(300):  # past orjson's nesting limit
            node["a"] = {}
            node = node["a"]
        with pytest.raises(UnstorableObjectError):
            store.write("configmaps", "default", "deep", deep, store.next_resource_version())
        assert store.get("configmaps", "default", "deep") is None
        with pytest.raises(UnstorableObjectError):
            store.write("configmaps", "default", None, {}, store.next_resource_version())  # type: ignore[arg-type]
    finally:
        store.close()


class FlakyDisk:
    """Makes the commit of chosen names fail, as a disk error or a constraint would."""

    def __init__(self, store: ObjectStore, failing: set[str]) -> None:
        self.failing = failing
        self.commit = store._commit
        store._commit = self  # type: ignore[method-assign]

    def __call__(self, changes: list[Change]) -> None:
        if any(change.name in self.failing for change in changes):
            raise OSError("disk I/O error")
        self.commit(changes)


async def test_a_failed_commit_is_undone_in_memory_and_others_in_its_batch_commit(tmp_path: Path) -> None:
    committed: list[str] = []
    store = ObjectStore(tmp_path / "db", on_commit=lambda changes: committed.extend(c.name for c in changes))
    store.open()
    FlakyDisk(store, {"bad"})
    try:
        before = {"metadata": {"name": "bad"}, "v": 0}
        store.write("cm", "", "bad", before, store.next_resource_version())  # memory only: as if
        writes = [(name, {"metadata": {"name": name}, "v": 1}) for name in ("a", "bad", "b")]
        changes = [store.write("cm", "", name, obj, store.next_resource_version()) for name, obj in writes]
        results = await asyncio.gather(*(store.persist(c) for c in changes), return_exceptions=True)
        assert [isinstance(result, OSError) for result in results] == [False, True, False]
        assert committed == ["a", "b"]
        assert store.get("cm", "", "bad") == before, "back to the state before the failed write"
    finally:
        store.close()


async def test_a_write_made_on_a_failed_one_fails_even_if_persisted_after_the_failure(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "db", on_commit=lambda changes: None)
    store.open()
    disk = FlakyDisk(store, {"a"})
    try:

        def write_a(version: int) -> Change:
            obj = {"metadata": {"name": "a"}, "v": version}
            return store.write("cm", "", "a", obj, store.next_resource_version())

        first = write_a(1)
        on_top = write_a(2)
        with pytest.raises(OSError, match="disk I/O error"):
            await store.persist(first)
        assert store.get("cm", "", "a") is None, "undone back to what the disk holds"
        with pytest.raises(OSError, match="disk I/O error"):
            await store.persist(on_top)  # built on the undone write: it must not resurrect it
        assert store.get("cm", "", "a") is None
        disk.failing.clear()  # the disk recovers: a write made now is not built on the failed one
        await store.persist(write_a(3))
        assert store.get("cm", "", "a") == {"metadata": {"name": "a"}, "v": 3}
    finally:
        store.close()
    assert disk_state(tmp_path / "db") == {"a": {"metadata": {"name": "a"}, "v": 3}}


def disk_state(path: Path) -> dict[str, Any]:
    reloaded = ObjectStore(path, on_commit=lambda changes: None)
    reloaded.open()
    try:
        return {obj["metadata"]["name"]: obj for obj in reloaded.items("cm")}
    finally:
        reloaded.close()


operations = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.booleans(), st.booleans()), min_size=1, max_size=25
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=operations, failing=st.sets(st.sampled_from(["a", "b", "c", "d"]), max_size=2))
def test_memory_always_equals_disk_whatever_fails(
    tmp_path_factory: pytest.TempPathFactory, operations: list[tuple[str, bool, bool]], failing: set[str]
) -> None:
    """Concurrent writes and deletes, some on objects whose commits fail: memory equals what the disk
    holds, every acknowledged write is there, and resourceVersions only grow."""
    path = tmp_path_factory.mktemp("store") / "db"

    async def scenario() -> None:
        store = ObjectStore(path, on_commit=lambda changes: None)
        store.open()
        FlakyDisk(store, failing)
        acknowledged: dict[str, int] = {}
        try:
            pending = []
            for name, delete, yield_first in operations:
                if yield_first:
                    await asyncio.sleep(0)
                rv = store.next_resource_version()
                obj = None if delete else {"metadata": {"name": name}, "rv": rv}
                pending.append(
                    (name, rv, asyncio.ensure_future(store.persist(store.write("cm", "", name, obj, rv))))
                )
            store.window("cm", None, None, 0)  # cached now, so undoing a failed write must refresh it
            for name, rv, task in pending:
                try:
                    await task
                    acknowledged[name] = max(acknowledged.get(name, 0), rv)
                except OSError:
                    pass
            memory = {obj["metadata"]["name"]: obj for obj in store.items("cm")}
            listed = store.window("cm", None, None, 0)
            assert listed.objects == list(memory.values())
            assert listed.encodings == [orjson.dumps(obj) for obj in listed.objects], "no stale bytes"
        finally:
            store.close()
        on_disk = disk_state(path)
        assert memory == on_disk
        assert not failing & set(on_disk), "a write whose commit failed is not present"
        for name in set(acknowledged) - failing:
            deleted_last = [op for op in operations if op[0] == name][-1][1]
            assert (name in on_disk) != deleted_last

    asyncio.run(scenario())
