"""`infleet gateway --context`: the waker reaches each member cluster through its context of the same
kubeconfig (``infleet-<cluster>``, as ``infleet up`` writes it), and the hub's copy for the others."""

from __future__ import annotations

from pathlib import Path

import yaml

from infleet.cli.gateway_command import member_clients


def test_member_clients_come_from_the_kubeconfigs_contexts(tmp_path: Path) -> None:
    names = ["infleet-hub", "infleet-us-east", "eu-west"]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": n, "cluster": {"server": "http://127.0.0.1:1"}} for n in names],
                "users": [{"name": "admin", "user": {"token": "t"}}],
                "contexts": [{"name": n, "context": {"cluster": n, "user": "admin"}} for n in names],
                "current-context": "infleet-hub",
            }
        )
    )
    clients = member_clients(kubeconfig)
    us, eu = clients("us-east"), clients("eu-west")
    assert us is not None
    assert us.name == "us-east"
    assert eu is not None
    assert eu.name == "eu-west"
    assert clients("ap-southeast") is None  # not in this kubeconfig: woken through the hub's copy
