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


def provider_id(obj: Any) -> list[str]:
    value = (obj.get("spec") or {}).get("providerID")
    return [value] if value else []


def node(name: str, provider: str | None) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"providerID": provider} if provider else {}}


def test_named_indexes_cover_objects_present_before_and_after_and_follow_changes() -> None:
    store = Store()
    store.upsert(node("early", "sim://a"))
    store.add_index("providerID", provider_id)
    store.upsert(node("late", "sim://b"))
    store.upsert(node("bare", None))
    assert [n["metadata"]["name"] for n in store.by_index("providerID", "sim://a")] == ["early"]
    assert [n["metadata"]["name"] for n in store.by_index("providerID", "sim://b")] == ["late"]
    store.upsert(node("late", "sim://c"))  # an update moves it
    assert store.by_index("providerID", "sim://b") == []
    assert len(store.by_index("providerID", "sim://c")) == 1
    store.add_index("providerID", lambda obj: ["ignored"])  # the first function stays
    assert store.by_index("providerID", "ignored") == []
    store.delete("early")
    assert store.by_index("providerID", "sim://a") == []
    store.replace([node("fresh", "sim://a")])
    assert [n["metadata"]["name"] for n in store.by_index("providerID", "sim://a")] == ["fresh"]
    assert store.by_index("providerID", "sim://c") == []
