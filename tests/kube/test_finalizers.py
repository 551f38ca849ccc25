"""Finalizers against the embedded server: guarded add/remove, stale reads refused, deletion completes."""

from __future__ import annotations

import pytest

from infleet.kube.api_error import KubeAPIError
from infleet.kube.finalizers import ensure_finalizer, has_finalizer, is_being_deleted, remove_finalizer
from tests.kube.conftest import RunningServer, install_widget_crd, widget

FINALIZER = "aitoolchain.io/cleanup"


async def test_finalizer_lifecycle(apiserver: RunningServer) -> None:
    client = apiserver.client()
    kind = await install_widget_crd(client)
    created = await client.create(kind, widget("w"))
    with_finalizer = await ensure_finalizer(client, kind, created, FINALIZER)
    assert has_finalizer(with_finalizer, FINALIZER)
    assert await ensure_finalizer(client, kind, with_finalizer, FINALIZER) is with_finalizer  # no write
    second = await ensure_finalizer(client, kind, with_finalizer, "other/f")
    assert second["metadata"]["finalizers"] == [FINALIZER, "other/f"]

    await client.delete(kind, "w", "default")
    deleting = await client.get(kind, "w", "default")
    assert is_being_deleted(deleting)
    after = await remove_finalizer(client, kind, deleting, FINALIZER)
    assert after["metadata"]["finalizers"] == ["other/f"]
    await remove_finalizer(client, kind, after, "other/f")
    with pytest.raises(KubeAPIError) as gone:
        await client.get(kind, "w", "default")
    assert gone.value.not_found, "removing the last finalizer completes the deletion"


async def test_a_stale_read_is_read_again_and_keeps_the_other_writers_finalizer(
    apiserver: RunningServer,
) -> None:
    client = apiserver.client()
    kind = await install_widget_crd(client)
    stale = await client.create(kind, widget("w"))
    await ensure_finalizer(client, kind, stale, "other/f")  # another writer, after our read
    updated = await ensure_finalizer(client, kind, stale, FINALIZER)
    assert updated["metadata"]["finalizers"] == ["other/f", FINALIZER]
    assert (await client.get(kind, "w", "default"))["metadata"]["finalizers"] == ["other/f", FINALIZER]
    holding = await client.get(kind, "w", "default")
    await client.patch(kind, "w", {"spec": {"size": 3}}, "default")  # our copy goes stale again
    removed = await remove_finalizer(client, kind, holding, FINALIZER)
    assert removed["metadata"]["finalizers"] == ["other/f"]


async def test_a_stale_read_that_stays_stale_is_refused(apiserver: RunningServer) -> None:
    client = apiserver.client()
    kind = await install_widget_crd(client)
    created = await client.create(kind, widget("w"))

    class AlwaysStale:
        """A client whose every read is already out of date, as under a very busy writer."""

        def __init__(self) -> None:
            self.reads = 0

        async def get(self, *args: object) -> dict[str, object]:
            self.reads += 1
            return created

        async def patch(self, *args: object, **kwargs: object) -> dict[str, object]:
            await client.patch(kind, "w", {"spec": {"size": self.reads + 2}}, "default")
            return await client.patch(*args, **kwargs)  # type: ignore[arg-type]

    await client.patch(kind, "w", {"spec": {"size": 2}}, "default")
    stale_client = AlwaysStale()
    with pytest.raises(KubeAPIError) as refused:
        await ensure_finalizer(stale_client, kind, created, FINALIZER)  # type: ignore[arg-type]
    assert refused.value.code in (409, 422)
    assert stale_client.reads == 2, "read again twice, then the third stale attempt is refused"
    assert not has_finalizer(await client.get(kind, "w", "default"), FINALIZER)
