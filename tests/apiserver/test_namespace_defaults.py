"""What every cluster and namespace start with, seen through real kubectl: the ``default``
ServiceAccount and ``kube-root-ca.crt`` in each namespace (those at start and new ones), and the
``cluster-admin`` ClusterRole bound to ``system:masters``."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.apiserver_harness import Kubectl, ServerThread

pytestmark = pytest.mark.kubectl


def test_namespaces_at_start_have_their_defaults(kubectl: Kubectl) -> None:
    for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
        names = kubectl.run("get", "-n", namespace, "serviceaccounts,configmaps", "-o", "name").stdout.split()
        assert "serviceaccount/default" in names, namespace
        assert "configmap/kube-root-ca.crt" in names, namespace


def test_a_new_namespace_gets_them_at_once(kubectl: Kubectl, tls_server: ServerThread) -> None:
    name = f"team-{uuid.uuid4().hex[:6]}"
    kubectl.run("create", "namespace", name)
    account = json.loads(kubectl.run("get", "-n", name, "serviceaccount", "default", "-o", "json").stdout)
    assert account["metadata"]["namespace"] == name
    ca = kubectl.run(
        "get", "-n", name, "configmap", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"
    ).stdout
    assert ca.startswith("-----BEGIN CERTIFICATE-----")
    assert ca.strip() == (tls_server.settings.data_dir / "pki" / "ca.crt").read_text().strip()


def test_cluster_admin_is_bound_to_system_masters(kubectl: Kubectl) -> None:
    role = json.loads(kubectl.run("get", "clusterrole", "cluster-admin", "-o", "json").stdout)
    assert {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]} in role["rules"]
    assert {"nonResourceURLs": ["*"], "verbs": ["*"]} in role["rules"]
    wide = kubectl.run("get", "clusterrolebinding", "cluster-admin", "-o", "wide").stdout
    assert "ClusterRole/cluster-admin" in wide
    assert "system:masters" in wide
