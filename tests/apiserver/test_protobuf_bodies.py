"""Protobuf request bodies: what real kubectl's ``create`` generators send, stored as the JSON they mean.

kubectl builds each object in Go and sends it as ``application/vnd.kubernetes.protobuf``. The same
kubectl prints that very object as JSON with ``--dry-run=client -o json``, which makes it the oracle
for the decoder: the bytes it sent, decoded, must equal the JSON it prints (less its nulls).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infleet.apiserver import builtin_kinds, cluster, resource_endpoint
from infleet.apiserver.body_decoding import Decoded
from infleet.apiserver.errors import StatusError
from infleet.apiserver.protobuf_bodies import MAGIC, PROTOBUF_MEDIA_TYPE, decode_protobuf_body, go_duration
from infleet.apiserver.protobuf_table import FieldType, field_table
from infleet.apiserver.resources import ResourceType
from tests.apiserver_harness import Kubectl, ServerThread, kubectl_binaries

pytestmark = pytest.mark.kubectl

# The kinds kubectl's create generators make, served here even where the server does not serve them
# yet, so every generator's bytes reach the decoder. (group, version, kind, plural, namespaced)
_GENERATED_KINDS = [
    ("", "v1", "ServiceAccount", "serviceaccounts", True),
    ("", "v1", "ResourceQuota", "resourcequotas", True),
    ("batch", "v1", "Job", "jobs", True),
    ("batch", "v1", "CronJob", "cronjobs", True),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", True),
]


def _with_generated_kinds() -> list[ResourceType]:
    served = list(builtin_kinds.builtin_resources())
    known = {(r.group, r.kind) for r in served}
    extra = [
        ResourceType(group, version, kind, plural, kind.lower(), namespaced)
        for group, version, kind, plural, namespaced in _GENERATED_KINDS
        if (group, kind) not in known
    ]
    return [*served, *extra]


class Captured:
    """The protobuf bodies the server decoded, in order."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []


@pytest.fixture(scope="module")
def captured() -> Captured:
    return Captured()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, captured: Captured) -> Iterator[ServerThread]:
    def recording(raw: bytes, api_version: str, kind: str) -> Decoded:
        captured.bodies.append(raw)
        return decode_protobuf_body(raw, api_version, kind)

    with pytest.MonkeyPatch.context() as patch:
        # Only where the server still takes its built-in kinds from this list; serving them all
        # natively makes the addition unnecessary.
        if hasattr(cluster, "builtin_resources"):
            patch.setattr(cluster, "builtin_resources", _with_generated_kinds)
        patch.setattr(resource_endpoint, "decode_protobuf_body", recording)
        with ServerThread(tmp_path_factory.mktemp("protobuf")) as running:
            yield running


@pytest.fixture
def kubectl(server: ServerThread, tmp_path: Path) -> Kubectl:
    return Kubectl(kubectl_binaries()[0], server.kubeconfig, tmp_path / "cache")


@pytest.fixture
def api(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url("hub"), timeout=10) as client:
        yield client


def _get(obj: dict[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# kubectl's arguments, the object to read back, and fields it must hold.
CASES: dict[str, tuple[list[str], str, dict[str, Any]]] = {
    "namespace": (["create", "namespace", "pb-team"], "namespace/pb-team", {"metadata.name": "pb-team"}),
    "configmap": (
        ["create", "configmap", "pb-config", "--from-literal=mode=fast", "--from-literal=level=3"],
        "configmap/pb-config",
        {"data": {"mode": "fast", "level": "3"}},
    ),
    "secret": (
        ["create", "secret", "generic", "pb-secret", "--from-literal=password=hunter2", "--type=Opaque"],
        "secret/pb-secret",
        {"data.password": _b64("hunter2"), "type": "Opaque"},
    ),
    "deployment": (
        ["create", "deployment", "pb-web", "--image=nginx:1.27", "--replicas=3", "--port=8080"],
        "deployment/pb-web",
        {
            "spec.replicas": 3,
            "spec.selector.matchLabels": {"app": "pb-web"},
            "spec.template.spec.containers.0.image": "nginx:1.27",
            "spec.template.spec.containers.0.ports.0.containerPort": 8080,
        },
    ),
    "deployment-zero-replicas": (
        ["create", "deployment", "pb-idle", "--image=nginx:1.27", "--replicas=0"],
        "deployment/pb-idle",
        {"spec.replicas": 0},  # a pointer's zero is sent and kept, not defaulted to 1
    ),
    "secret-docker-registry": (
        [
            "create",
            "secret",
            "docker-registry",
            "pb-pull",
            "--docker-server=registry.example.com",
            "--docker-username=u",
            "--docker-password=p",
        ],
        "secret/pb-pull",
        {"type": "kubernetes.io/dockerconfigjson"},
    ),
    "service": (
        ["create", "service", "clusterip", "pb-svc", "--tcp=80:8080"],
        "service/pb-svc",
        {"spec.ports.0.port": 80, "spec.ports.0.targetPort": 8080, "spec.ports.0.protocol": "TCP"},
    ),
    "job": (
        ["create", "job", "pb-job", "--image=busybox:1.36", "--", "sh", "-c", "echo hello"],
        "job/pb-job",
        {
            "spec.template.spec.containers.0.image": "busybox:1.36",
            "spec.template.spec.containers.0.command": ["sh", "-c", "echo hello"],
            "spec.template.spec.restartPolicy": "Never",
        },
    ),
    "serviceaccount": (
        ["create", "serviceaccount", "pb-robot"],
        "serviceaccount/pb-robot",
        {"metadata.name": "pb-robot"},
    ),
    "role": (
        ["create", "role", "pb-reader", "--verb=get,list", "--resource=pods"],
        "role/pb-reader",
        {"rules.0.verbs": ["get", "list"], "rules.0.resources": ["pods"], "rules.0.apiGroups": [""]},
    ),
    "rolebinding": (
        ["create", "rolebinding", "pb-read", "--role=pb-reader", "--user=alice"],
        "rolebinding/pb-read",
        {"roleRef.kind": "Role", "roleRef.name": "pb-reader", "subjects.0.name": "alice"},
    ),
    "clusterrole": (
        ["create", "clusterrole", "pb-nodes", "--verb=get", "--resource=nodes"],
        "clusterrole/pb-nodes",
        {"rules.0.verbs": ["get"], "rules.0.resources": ["nodes"]},
    ),
    "clusterrolebinding": (
        ["create", "clusterrolebinding", "pb-nodes", "--clusterrole=pb-nodes", "--group=ops"],
        "clusterrolebinding/pb-nodes",
        {"roleRef.kind": "ClusterRole", "subjects.0.kind": "Group", "subjects.0.name": "ops"},
    ),
    "priorityclass": (
        ["create", "priorityclass", "pb-high", "--value=1000", "--description=serving first"],
        "priorityclass/pb-high",
        {"value": 1000, "description": "serving first", "preemptionPolicy": "PreemptLowerPriority"},
    ),
    "quota": (
        ["create", "quota", "pb-quota", "--hard=cpu=2,memory=1Gi,pods=10"],
        "resourcequota/pb-quota",
        {"spec.hard": {"cpu": "2", "memory": "1Gi", "pods": "10"}},
    ),
    "poddisruptionbudget": (
        ["create", "poddisruptionbudget", "pb-pdb", "--selector=app=pb-web", "--max-unavailable=50%"],
        "poddisruptionbudget/pb-pdb",
        {"spec.maxUnavailable": "50%", "spec.selector.matchLabels": {"app": "pb-web"}},
    ),
    "poddisruptionbudget-int": (
        ["create", "poddisruptionbudget", "pb-pdb-one", "--selector=app=pb-web", "--min-available=1"],
        "poddisruptionbudget/pb-pdb-one",
        {"spec.minAvailable": 1},
    ),
    "cronjob": (
        ["create", "cronjob", "pb-cron", "--image=busybox:1.36", "--schedule=*/5 * * * *", "--", "date"],
        "cronjob/pb-cron",
        {
            "spec.schedule": "*/5 * * * *",
            "spec.jobTemplate.spec.template.spec.containers.0.command": ["date"],
        },
    ),
    "ingress": (
        ["create", "ingress", "pb-ingress", "--rule=models.example.com/v1*=pb-svc:80"],
        "ingress/pb-ingress",
        {
            "spec.rules.0.host": "models.example.com",
            "spec.rules.0.http.paths.0.path": "/v1",
            "spec.rules.0.http.paths.0.pathType": "Prefix",
            "spec.rules.0.http.paths.0.backend.service.port.number": 80,
        },
    ),
}


def _without_nulls(value: Any) -> Any:
    """kubectl's JSON with its nulls left out: null and absent mean the same to the API server."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("case", list(CASES))
def test_kubectl_generators_store_what_was_asked(case: str, kubectl: Kubectl, captured: Captured) -> None:
    args, target, expected = CASES[case]
    sent_before = len(captured.bodies)
    created = kubectl.run(*args)
    assert "created" in created.stdout
    assert len(captured.bodies) == sent_before + 1  # kubectl really sent protobuf
    body = captured.bodies[-1]
    assert body.startswith(MAGIC)

    stored = json.loads(kubectl.run("get", target, "-o", "json").stdout)
    for path, value in expected.items():
        assert _get(stored, path) == value, f"{case}: {path} in {json.dumps(stored, indent=1)}"

    # The bytes kubectl sent decode to exactly the object kubectl prints as JSON for the same command.
    split = args.index("--") if "--" in args else len(args)
    dry_run = [*args[:split], "--dry-run=client", "-o", "json", *args[split:]]
    printed = json.loads(kubectl.run(*dry_run).stdout)
    decoded = decode_protobuf_body(body, "", "").value
    assert decoded == _without_nulls(printed)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload & (2**64 - 1))
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _envelope(api_version: str, kind: str, message: bytes) -> bytes:
    type_meta = _field(1, api_version.encode()) + _field(2, kind.encode())
    return MAGIC + _field(1, type_meta) + _field(2, message)


def _post(api: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return api.post(path, content=body, headers={"Content-Type": PROTOBUF_MEDIA_TYPE})


@pytest.mark.parametrize(
    ("path", "api_version", "kind"),
    [
        (
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
        ),
        ("/api/v1/namespaces/default/configmaps", "example.com/v1", "Widget"),
    ],
)
def test_a_kind_without_a_protobuf_schema_is_refused_with_a_clear_415(
    api: httpx.Client, path: str, api_version: str, kind: str
) -> None:
    metadata = _field(1, _field(1, b"x"))
    response = _post(api, path, _envelope(api_version, kind, metadata))
    assert response.status_code == 415
    status = response.json()
    assert status["reason"] == "UnsupportedMediaType"
    assert f"{kind} ({api_version})" in status["message"]
    assert "JSON or YAML" in status["message"]
    assert "kubectl create -f" in status["message"]


@pytest.mark.parametrize(
    "body",
    [
        b"\x0a\x02v1",  # no k8s\0 prefix
        MAGIC + b"\x0a\x80",  # a length that runs past the end
        MAGIC + b"\x0b",  # a group, which no Kubernetes type uses
    ],
)
def test_malformed_protobuf_is_a_400(api: httpx.Client, body: bytes) -> None:
    response = _post(api, "/api/v1/namespaces/default/configmaps", body)
    assert response.status_code == 400
    assert "not a valid Kubernetes protobuf message" in response.json()["message"]


def test_protobuf_delete_options_are_honoured(api: httpx.Client) -> None:
    name = _field(1, _field(1, b"pb-kept"))
    created = _post(api, "/api/v1/namespaces/default/configmaps", _envelope("v1", "ConfigMap", name))
    assert created.status_code == 201, created.text
    dry_run = _field(5, b"All")  # DeleteOptions.dryRun
    response = api.request(
        "DELETE",
        "/api/v1/namespaces/default/configmaps/pb-kept",
        content=_envelope("meta.k8s.io/v1", "DeleteOptions", dry_run),
        headers={"Content-Type": PROTOBUF_MEDIA_TYPE},
    )
    assert response.status_code == 200, response.text
    assert api.get("/api/v1/namespaces/default/configmaps/pb-kept").status_code == 200


# Kinds no Go client sends as protobuf to this server: a CRD's schema types have JSON of their own.
_NO_PROTOBUF = {("apiextensions.k8s.io/v1", "CustomResourceDefinition")}


def test_every_served_builtin_kind_has_a_protobuf_schema() -> None:
    table = field_table()
    missing = sorted(
        f"{r.api_version} {r.kind}"
        for r in builtin_kinds.builtin_resources()
        if r.builtin
        and (r.api_version, r.kind) not in _NO_PROTOBUF
        and table.message_of(r.api_version, r.kind) is None
    )
    assert not missing, (
        f"served without a protobuf schema: {missing}; add their package to API_PACKAGES in "
        f"tools/k8s_protobuf_fields.py and run it again"
    )


def test_the_field_table_is_closed() -> None:
    """Every message a field or kind names is described, so no body can reach an unknown message."""
    table = field_table()

    def named(field_type: FieldType) -> list[str]:
        if isinstance(field_type, tuple):
            return [name for inner in field_type[1:] for name in named(inner)]
        return [field_type[1:]] if field_type.startswith("@") else []

    referenced = {
        name for specs in table.messages.values() for spec in specs.values() for name in named(spec.type)
    }
    assert referenced | set(table.kinds.values()) <= set(table.messages)
    assert table.message_of("apps/v1", "Deployment") == "apps/v1.Deployment"
    assert table.message_of("batch/v1", "DeleteOptions") == "meta/v1.DeleteOptions"


def test_raw_extensions_hold_json_or_a_nested_envelope() -> None:
    metadata = _field(1, b"web-7d9f") + _field(8, _field(1, 1_700_000_000))  # creationTimestamp
    as_json = _field(1, b'{"spec":{"replicas":2}}')
    pod = _envelope("v1", "Pod", _field(1, _field(1, b"inner")))
    for raw, data in (
        (as_json, {"spec": {"replicas": 2}}),
        (_field(1, pod), {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "inner"}}),
    ):
        revision = _field(1, metadata) + _field(2, raw) + _field(3, 4)
        decoded = decode_protobuf_body(_envelope("apps/v1", "ControllerRevision", revision), "", "").value
        assert decoded == {
            "kind": "ControllerRevision",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web-7d9f", "creationTimestamp": "2023-11-14T22:13:20Z"},
            "data": data,
            "revision": 4,
        }


def test_protobuf_updates_replace_the_object(api: httpx.Client) -> None:
    created = _post(
        api,
        "/api/v1/namespaces/default/configmaps",
        _envelope("v1", "ConfigMap", _field(1, _field(1, b"pb-upd"))),
    )
    assert created.status_code == 201, created.text
    version = created.json()["metadata"]["resourceVersion"]
    metadata = _field(1, b"pb-upd") + _field(6, version.encode())
    data = _field(2, _field(1, b"mode") + _field(2, b"slow"))  # a map entry: key 1, value 2
    response = api.put(
        "/api/v1/namespaces/default/configmaps/pb-upd",
        content=_envelope("v1", "ConfigMap", _field(1, metadata) + data),
        headers={"Content-Type": PROTOBUF_MEDIA_TYPE},
    )
    assert response.status_code == 200, response.text
    assert api.get("/api/v1/namespaces/default/configmaps/pb-upd").json()["data"] == {"mode": "slow"}


def test_times_durations_and_signed_numbers_read_as_go_writes_them() -> None:
    renew = _field(1, 1_700_000_000) + _field(2, 123_456_789)  # MicroTime seconds, nanos
    spec = (
        _field(1, b"engine-0")  # holderIdentity
        + _field(2, 0)  # leaseDurationSeconds: a pointer, so its zero is kept
        + _field(4, renew)  # renewTime
        + _field(5, 2**64 - 1)  # leaseTransitions = -1, sign-extended as Go writes int32
    )
    lease = _field(1, _field(1, b"leader") + _field(8, b"")) + _field(2, spec)
    decoded = decode_protobuf_body(_envelope("coordination.k8s.io/v1", "Lease", lease), "", "").value
    assert decoded == {
        "kind": "Lease",
        "apiVersion": "coordination.k8s.io/v1",
        "metadata": {"name": "leader"},  # an empty creationTimestamp is the zero time: left out
        "spec": {
            "holderIdentity": "engine-0",
            "leaseDurationSeconds": 0,
            "renewTime": "2023-11-14T22:13:20.123456Z",
            "leaseTransitions": -1,
        },
    }


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (0, "0s"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (250_000_000, "250ms"),
        (1_500_000_000, "1.5s"),
        (90_000_000_000, "1m30s"),
        (3_600_000_000_000, "1h0m0s"),
        (-2_000_000_000, "-2s"),
    ],
)
def test_durations_print_as_go_prints_them(nanoseconds: int, text: str) -> None:
    assert go_duration(nanoseconds) == text


# Messages of random fields, nested: the decoder meets wrong wire types, truncated lengths, unknown
# numbers and odd values at every level of real schemas.
_messages = st.recursive(
    st.binary(max_size=12),
    lambda inner: st.lists(
        st.tuples(st.integers(1, 40), st.one_of(st.integers(0, 2**64 - 1), inner)), max_size=6
    ).map(lambda parts: b"".join(_field(n, p) for n, p in parts)),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(
        [
            ("apps/v1", "Deployment"),
            ("v1", "Pod"),
            ("batch/v1", "CronJob"),
            ("v1", "Secret"),
            ("v1", "Service"),
        ]
    ),
    message=_messages,
)
def test_any_bytes_decode_or_are_refused_with_a_status(kind: tuple[str, str], message: bytes) -> None:
    outcome: dict[str, Any] | StatusError
    try:
        outcome = decode_protobuf_body(_envelope(*kind, message), "", "").value
    except StatusError as exc:
        outcome = exc
    if isinstance(outcome, StatusError):
        assert outcome.code in (400, 415), outcome.message
    else:
        assert outcome["kind"] == kind[1]
        json.dumps(outcome)
