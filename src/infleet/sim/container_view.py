"""What a simulated container looks like from inside: its environment, its files and its ports.

Built by the kubelet's exec endpoint from the Pod (env with ``fieldRef``, ``configMapKeyRef``,
``secretKeyRef`` and ``envFrom`` resolved as the kubelet resolves them), the node and the pod's engine.
Files are the ones a user looks at first: ``/etc/hostname``, ``/etc/hosts``, ``/etc/resolv.conf``, the
service account's namespace and, in an engine container, the served model's ``config.json`` where the
engine would have downloaded it.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from infleet.api.catalog import CatalogError, load_catalog
from infleet.sim.container_gpus import ContainerGpus

# (kind "ConfigMap" or "Secret", namespace, name) -> the object, or None when it does not exist
ObjectLookup = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
HF_CACHE = "/root/.cache/huggingface/hub"


@dataclass(frozen=True)
class ContainerView:
    """One container of a running simulated pod."""

    namespace: str
    pod: str
    container: str
    node: str
    pod_ip: str
    env: dict[str, str]
    files: dict[str, str]
    # port a process in the container listens on -> (host, port) where the simulator really serves it
    ports: dict[int, tuple[str, int]] = field(default_factory=dict)
    working_dir: str = "/"
    gpus: ContainerGpus = field(default_factory=ContainerGpus)

    def is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return path == "/" or any(name.startswith(prefix) for name in self.files)

    def listing(self, path: str) -> list[str]:
        """Names directly under ``path``."""
        prefix = path.rstrip("/") + "/"
        names = {name[len(prefix) :].split("/", 1)[0] for name in self.files if name.startswith(prefix)}
        return sorted(names)

    def resolve(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.working_dir, path))


def _field_value(pod: dict[str, Any], path: str) -> str:
    metadata, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    simple = {
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace"),
        "metadata.uid": metadata.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    for prefix, source in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str((metadata.get(source) or {}).get(path[len(prefix) + 2 : -2], ""))
    return ""


def _data(kind: str, obj: dict[str, Any] | None) -> dict[str, str]:
    if obj is None:
        return {}
    if kind == "Secret":
        decoded = {
            k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (obj.get("data") or {}).items()
        }
        return {**decoded, **(obj.get("stringData") or {})}
    return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}


async def container_env(
    pod: dict[str, Any], container: dict[str, Any], hostname: str, lookup: ObjectLookup
) -> dict[str, str]:
    """The environment a process in the container sees, in the order ``env`` prints it."""
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME": hostname,
    }
    for source in container.get("envFrom") or []:
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(key)
            if ref:
                values = _data(kind, await lookup(kind, namespace, str(ref.get("name"))))
                env.update({f"{source.get('prefix', '')}{k}": v for k, v in values.items()})
    for entry in container.get("env") or []:
        name, value_from = str(entry.get("name")), entry.get("valueFrom") or {}
        if "value" in entry or not value_from:
            env[name] = str(entry.get("value", ""))
        elif "fieldRef" in value_from:
            env[name] = _field_value(pod, str(value_from["fieldRef"].get("fieldPath", "")))
        else:
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = value_from.get(key)
                if ref:
                    values = _data(kind, await lookup(kind, namespace, str(ref.get("name"))))
                    if str(ref.get("key")) in values:
                        env[name] = values[str(ref.get("key"))]
    env.update(
        {
            "KUBERNETES_SERVICE_HOST": "10.96.0.1",
            "KUBERNETES_SERVICE_PORT": "443",
            "KUBERNETES_SERVICE_PORT_HTTPS": "443",
            "KUBERNETES_PORT": "tcp://10.96.0.1:443",
            "HOME": "/root",
        }
    )
    return env


def model_config(model: str) -> tuple[str, str] | None:
    """Path and content of a catalog model's ``config.json`` in the Hugging Face cache, or None."""
    try:
        info = load_catalog().model(model)
    except CatalogError:
        return None
    config = {
        "_name_or_path": info.name,
        "hidden_size": info.hidden_size,
        "head_dim": info.head_dim,
        "max_position_embeddings": info.context_length,
        "num_attention_heads": info.attention_heads,
        "num_hidden_layers": info.layers,
        "num_key_value_heads": info.kv_heads,
        "torch_dtype": {"bf16": "bfloat16", "fp16": "float16"}.get(str(info.dtype), str(info.dtype)),
    }
    folder = f"{HF_CACHE}/models--{info.name.replace('/', '--')}/snapshots/main"
    return f"{folder}/config.json", orjson.dumps(config, option=orjson.OPT_INDENT_2).decode() + "\n"


def container_files(pod: dict[str, Any], hostname: str, pod_ip: str, model: str | None) -> dict[str, str]:
    namespace = pod["metadata"]["namespace"]
    search = f"{namespace}.svc.cluster.local svc.cluster.local cluster.local"
    files = {
        "/etc/hostname": f"{hostname}\n",
        "/etc/hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n{pod_ip}\t{hostname}\n",
        "/etc/resolv.conf": f"search {search}\nnameserver 10.96.0.10\noptions ndots:5\n",
        "/etc/os-release": 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nPRETTY_NAME="Ubuntu 22.04 LTS"\n',
        f"{SERVICE_ACCOUNT_DIR}/namespace": namespace,
    }
    config = model_config(model) if model else None
    if config is not None:
        files[config[0]] = config[1]
    return files
