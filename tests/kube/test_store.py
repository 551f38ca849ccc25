"""The informer store's indexes stay right through updates and deletes."""

from __future__ import annotations

from typing import Any

from infleet.kube.store import Store, object_key


def item(name: str, namespace: str | None, labels: dict[str, str], owners: list[str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "labels": labels,
        "ownerReferences": [{"uid": u} for u in owners],
    }
    if namespace:
        metadata["namespace"] = namespace
    return {"metadata": metadata}


def test_indexes_follow_updates_and_deletes() -> None:
    store = Store()
    store.upsert(item("a", "ns1", {"tier": "gpu"}, ["o1"]))
    store.upsert(item("b", "ns2", {"tier": "gpu"}, []))
    store.upsert(item("node", None, {"tier": "cpu"}, []))
    assert object_key(item("node", None, {}, [])) == "node"
    assert [o["metadata"]["name"] for o in store.by_label("tier", "gpu")] == ["a", "b"]
    store.upsert(item("a", "ns1", {"tier": "cpu"}, []))
    assert [o["metadata"]["name"] for o in store.by_label("tier", "gpu")] == ["b"]
    assert [o["metadata"]["name"] for o in store.by_label("tier", "cpu")] == ["node", "a"]  # by key
    assert store.owned_by("o1") == []
    assert store.delete("ns2/b") is not None
    assert store.list("ns2") == []
    assert store.get("node") is not None
    store.replace([item("x", "ns1", {}, ["o9"])])
    assert store.keys() == ["ns1/x"]
    assert len(store.owned_by("o9")) == 1
    assert store.by_label("tier", "cpu") == []
