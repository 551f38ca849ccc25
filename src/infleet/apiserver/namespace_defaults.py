"""The objects every cluster and every namespace start with, as a kube-apiserver and its controller
manager create them.

Each namespace gets the ``default`` ServiceAccount (the service account controller's) and, when the
server serves TLS, the ``kube-root-ca.crt`` ConfigMap holding the CA that signed the serving
certificate (the root CA publisher's). The cluster gets the ``cluster-admin`` ClusterRole bound to the
``system:masters`` group, as the RBAC bootstrap policy does. :class:`~infleet.apiserver.cluster.Cluster`
calls these at start and after creating a namespace; each object is created only when missing, so a
restart or a second call changes nothing. Both are created in-process, with no controller to wait for:
a namespace's defaults exist as soon as ``kubectl create namespace`` returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infleet.api.labels import BOOTSTRAPPING_LABEL, DESCRIPTION_ANNOTATION, RBAC_AUTOUPDATE_ANNOTATION
from infleet.apiserver.write_rules import WriteOptions

if TYPE_CHECKING:
    from infleet.apiserver.cluster import Cluster

DEFAULT_SERVICE_ACCOUNT = "default"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
_RBAC = "rbac.authorization.k8s.io"
_BOOTSTRAP_META: dict[str, Any] = {
    "annotations": {RBAC_AUTOUPDATE_ANNOTATION: "true"},
    "labels": {BOOTSTRAPPING_LABEL: "rbac-defaults"},
}
_CONTROLLER_MANAGER = WriteOptions(field_manager="kube-controller-manager")
_API_SERVER = WriteOptions(field_manager="kube-apiserver")


def _cluster_admin_role() -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "cluster-admin", **_BOOTSTRAP_META},
        "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ],
    }


def _cluster_admin_binding() -> dict[str, Any]:
    return {
        "apiVersion": f"{_RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "cluster-admin", **_BOOTSTRAP_META},
        "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": _RBAC, "kind": "Group", "name": "system:masters"}],
    }


async def ensure_cluster_defaults(cluster: Cluster) -> None:
    """The bootstrap RBAC objects a user expects to find, and every namespace's defaults."""
    await _create_missing(cluster, ("rbac.authorization.k8s.io", "clusterroles"), _cluster_admin_role())
    await _create_missing(
        cluster, ("rbac.authorization.k8s.io", "clusterrolebindings"), _cluster_admin_binding()
    )
    for namespace in list(cluster.store.items("namespaces")):
        await ensure_namespace_defaults(cluster, namespace)


async def ensure_namespace_defaults(cluster: Cluster, namespace: dict[str, Any]) -> None:
    """The ``default`` ServiceAccount and ``kube-root-ca.crt`` ConfigMap of a live namespace."""
    metadata = namespace["metadata"]
    if metadata.get("deletionTimestamp"):
        return
    name = str(metadata["name"])
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT_SERVICE_ACCOUNT}}
    await _create_missing(cluster, ("", "serviceaccounts"), account, name, _CONTROLLER_MANAGER)
    if cluster.root_ca_pem is not None:
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": ROOT_CA_CONFIGMAP,
                "annotations": {DESCRIPTION_ANNOTATION: _ROOT_CA_DESCRIPTION},
            },
            "data": {"ca.crt": cluster.root_ca_pem},
        }
        await _create_missing(cluster, ("", "configmaps"), configmap, name, _CONTROLLER_MANAGER)


_ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
    "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
    "distributions of Kubernetes clusters."
)


async def _create_missing(
    cluster: Cluster,
    group_plural: tuple[str, str],
    body: dict[str, Any],
    namespace: str | None = None,
    options: WriteOptions = _API_SERVER,
) -> None:
    group, plural = group_plural
    resource = cluster.resource(group, "v1", plural)
    if cluster.store.get(resource.storage_key, namespace or "", body["metadata"]["name"]) is None:
        await cluster.create(resource, namespace, body, options)
