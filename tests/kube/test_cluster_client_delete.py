"""Deleting through the client: an object already gone is an error, unless the caller (a cleanup path)
says ``missing_ok``."""

from __future__ import annotations

import pytest

from infleet.kube.api_error import KubeAPIError
from tests.kube.conftest import RunningServer, install_widget_crd, widget


async def test_missing_ok_makes_an_absent_object_a_success(apiserver: RunningServer) -> None:
    client = apiserver.client()
    kind = await install_widget_crd(client)
    await client.create(kind, widget("w"))
    await client.delete(kind, "w", "default", missing_ok=True)
    with pytest.raises(KubeAPIError) as gone:
        await client.delete(kind, "w", "default")
    assert gone.value.not_found
    assert await client.delete(kind, "w", "default", missing_ok=True) == {}
