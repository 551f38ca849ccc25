"""``aitoolchain.io/v1`` ``ModelDeployment``: what a team wants served; the cluster works out how.

Every field is optional but ``spec.model``. The CRD is generated from these types (``infleet.api.crds``);
the models controller (``infleet.models``) parses objects with :meth:`ModelDeploymentSpec.model_validate`
and writes :class:`ModelDeploymentStatus`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from infleet.api.aitoolchain_io.v1.group_version import GROUP, VERSION
from infleet.api.api_model import ApiModel
from infleet.api.conditions import Conditions
from infleet.api.crd import CRDInfo, PrinterColumn, ScaleSubresource
from infleet.api.resource_kind import ResourceKind

MODEL_DEPLOYMENT = ResourceKind(GROUP, VERSION, "ModelDeployment", "modeldeployments")

Engine = Literal["vllm", "sglang", "tgi", "transformers", "sim"]
AutoscalingMetric = Literal["queueDepth", "kvCacheUsage"]

#: Conditions the controller writes, in the order a deployment passes them.
CONDITION_SIZED = "Sized"
CONDITION_RESOURCES_READY = "ResourcesReady"
CONDITION_INFERENCE_READY = "InferenceReady"
CONDITION_READY = "Ready"


class SecretKeyRef(ApiModel):
    """A key of a Secret in the same namespace."""

    name: str = Field(min_length=1, description="Secret in the ModelDeployment's namespace.")
    key: str = Field(default="HF_TOKEN", description="Key in the Secret holding the value.")


class Resources(ApiModel):
    """GPUs per replica and where they may come from; everything omitted is sized automatically."""

    gpu: int | None = Field(
        default=None, ge=1, le=64, description="GPUs per replica; omit to size from the model and the SKUs."
    )
    gpu_skus: list[str] | None = Field(
        default=None, description="Acceptable GPU SKUs (catalog names such as H100, L40S); omit for any."
    )
    instance_type: str | None = Field(
        default=None, description="Cloud instance type of the nodes (node.kubernetes.io/instance-type)."
    )
    cpu: int | str | None = Field(default=None, description="CPU request per pod (quantity); default 1.")
    memory: int | str | None = Field(default=None, description="Memory request per pod; default 4Gi.")


class EngineArgs(ApiModel):
    """Serving options passed to the engine in its own flags."""

    max_model_len: int | None = Field(
        default=None, ge=128, description="Context length served; omit to use what fits, up to the model's."
    )
    quantization: Literal["fp8", "awq", "gptq", "bitsandbytes"] | None = Field(
        default=None, description="Weight quantization the engine applies at load time."
    )
    gpu_memory_utilization: float | None = Field(
        default=None, gt=0, le=1, description="Fraction of GPU memory the engine may use; default per SKU."
    )
    kv_cache_dtype: Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"] | None = Field(
        default=None,
        description="KV-cache element type (vLLM and SGLang --kv-cache-dtype); fp8 holds twice the tokens.",
    )
    extra_args: list[str] | None = Field(
        default=None, description="More engine arguments, appended as written (--enable-prefix-caching)."
    )


class Adapter(ApiModel):
    """A LoRA adapter served next to the base model under its own name."""

    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")
    source: str | None = Field(default=None, description="Hugging Face id (hf:org/name) or URL.")
    image: str | None = Field(default=None, description="OCI image holding the adapter files under /data.")

    @model_validator(mode="after")
    def _one_source(self) -> Adapter:
        if (self.source is None) == (self.image is None):
            raise ValueError(f"adapter {self.name}: set exactly one of source or image")
        return self


class Autoscaling(ApiModel):
    """Scale replicas on engine load; the decision lives in status.autoscaling, never in spec.replicas."""

    min_replicas: int = Field(default=1, ge=0, description="Floor while the deployment is in use.")
    max_replicas: int = Field(default=4, ge=1, description="Ceiling.")
    metric: AutoscalingMetric = Field(
        default="queueDepth", description="queueDepth: waiting requests per replica; kvCacheUsage: 0-1."
    )
    target: float = Field(default=4.0, gt=0, description="Per-replica value the autoscaler aims for.")
    scale_up_stabilization_seconds: int = Field(default=0, ge=0, le=3600)
    scale_down_stabilization_seconds: int = Field(default=300, ge=0, le=3600)
    scale_to_zero_after_seconds: int | None = Field(
        default=None, ge=1, description="Idle seconds before replicas drop to zero; omit to keep minReplicas."
    )

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) exceeds maxReplicas ({self.max_replicas}); "
                "lower minReplicas"
            )
        return self


class Rollout(ApiModel):
    """How changes of model, engine or arguments roll out; the default never drops serving to zero."""

    max_surge: int | str | None = Field(default=None, description="Extra pods during an update; default 1.")
    max_unavailable: int | str | None = Field(
        default=None, description="Pods that may be down during an update; default 0 so serving never drops."
    )


class WeightsCache(ApiModel):
    """Where weights are kept between restarts; default: an emptyDir per pod (downloaded each start)."""

    persistent_volume_claim: str | None = Field(default=None, description="Existing PVC (ReadWriteMany).")
    node_local_path: str | None = Field(default=None, description="Host directory on the GPU nodes.")


class ModelDeploymentSpec(ApiModel):
    """What to serve and how much of it; only model is required."""

    model: str = Field(
        min_length=1,
        description="Catalog model (Hugging Face id or served name, e.g. qwen2-7b) or hf:org/name.",
    )
    engine: Engine = Field(default="vllm", description="Serving engine.")
    engine_version: str | None = Field(default=None, description="Engine image tag; default per engine.")
    image: str | None = Field(default=None, description="Custom engine image replacing the engine's.")
    served_model_name: str | None = Field(default=None, description="Name clients send; default from model.")
    replicas: int = Field(default=1, ge=0, description="Replicas; written by the autoscaler when enabled.")
    resources: Resources | None = None
    engine_args: EngineArgs | None = None
    hf_token_secret: SecretKeyRef | None = Field(default=None, description="Hugging Face token.")
    adapters: list[Adapter] | None = None
    autoscaling: Autoscaling | None = None
    rollout: Rollout | None = None
    weights_cache: WeightsCache | None = None
    template: dict[str, Any] | None = Field(
        default=None, description="Pod template merged over the rendered one (custom images, sidecars)."
    )


class MemoryBudget(ApiModel):
    """GiB per GPU: usable memory split into weights, overhead and KV cache."""

    per_gpu_gib: float = Field(description="Usable memory per GPU at the engine's utilization.")
    weights_gib: float = Field(description="Weights per GPU, with load-time expansion.")
    overhead_gib: float = Field(description="Activations, CUDA graphs and runtime per GPU.")
    kv_cache_gib: float = Field(description="Left for the KV cache per GPU.")


class Sizing(ApiModel):
    """The chosen shape of one replica and why."""

    model: str
    sku: str
    gpus_per_replica: int
    nodes_per_replica: int = 1
    gpus_per_node: int
    tensor_parallel: int
    pipeline_parallel: int = 1
    max_model_len: int
    kv_cache_tokens: int
    kv_bytes_per_token: int
    memory: MemoryBudget
    cost_per_hour: float = Field(description="USD per replica-hour.")
    source: Literal["cluster", "provisionable"]
    instance_type: str | None = None
    node_selector: dict[str, str] | None = None
    reason: str = ""


class ReplicaStatus(ApiModel):
    """One replica (the leader pod of a multi-node group): where it runs and where it answers."""

    name: str
    ready: bool
    node: str | None = None
    sku: str | None = None
    endpoint: str | None = None


class Serving(ApiModel):
    """Figures aggregated over ready replicas from the engines' /metrics."""

    requests_per_second: float = 0.0
    tokens_per_second: float = 0.0
    ttft_p50_seconds: float | None = None
    ttft_p95_seconds: float | None = None
    kv_cache_usage: float = 0.0
    queue_depth: float = 0.0
    running_requests: float = 0.0
    scraped_at: str | None = None


class AutoscalingStatus(ApiModel):
    """The built-in autoscaler's last decision: the replica count that runs while spec.autoscaling is set."""

    desired_replicas: int | None = Field(
        default=None, ge=0, description="Replicas the autoscaler runs; spec.replicas is left to its writers."
    )
    observed_spec_replicas: int | None = Field(
        default=None,
        ge=0,
        description="spec.replicas at the decision; a different value since is a write from outside "
        "(kubectl scale, an edit, a fleet), which the autoscaler starts again from.",
    )
    last_scale_time: str | None = None
    last_active_time: str | None = None
    reason: str | None = None


class ServingReplica(ApiModel):
    """On the hub: one ready replica of a member, where a gateway can send it requests."""

    name: str
    endpoint: str
    sku: str | None = None


class ClusterServing(ApiModel):
    """On the hub: one member cluster's copy of the deployment, as that member's agent reported it."""

    cluster_name: str
    state: str | None = None
    ready: bool = False
    replicas: int | None = None
    ready_replicas: int | None = None
    gpu: str | None = None
    endpoints: list[str] | None = None
    serving_replicas: list[ServingReplica] | None = Field(
        default=None, description="Ready replicas with their endpoints and GPU SKU (what gateways route to)."
    )
    cost_per_replica_hour: float | None = Field(default=None, description="USD per replica-hour there.")
    message: str | None = None
    observed_time: str | None = None


class ModelDeploymentStatus(ApiModel):
    """What the controller observed and decided (on the hub: what the members report, in clusters)."""

    observed_generation: int | None = None
    state: str | None = Field(default=None, description="Pending, Progressing, Ready, ScaledToZero, Failed.")
    replicas: int | None = None
    ready_replicas: int | None = None
    updated_replicas: int | None = None
    ready: str | None = Field(default=None, description="ready/desired, for kubectl get.")
    gpu: str | None = Field(default=None, description="GPUs per replica and SKU, e.g. 2xL40S.")
    selector: str | None = Field(default=None, description="Label selector of the pods (scale subresource).")
    endpoint: str | None = None
    sizing: Sizing | None = None
    replica_status: list[ReplicaStatus] | None = None
    serving: Serving | None = None
    autoscaling: AutoscalingStatus | None = None
    clusters: list[ClusterServing] | None = Field(
        default=None, description="On the hub: per member cluster, readiness, replicas and endpoints."
    )
    conditions: Conditions | None = None


CRD_INFO = CRDInfo(
    resource=MODEL_DEPLOYMENT,
    short_names=("md", "mdeploy"),
    categories=("infleet", "aitoolchain"),
    printer_columns=(
        PrinterColumn("Model", "string", ".spec.model"),
        PrinterColumn("Engine", "string", ".spec.engine"),
        PrinterColumn("GPU", "string", ".status.gpu"),
        PrinterColumn("Ready", "string", ".status.ready"),
        PrinterColumn("Status", "string", ".status.state"),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        PrinterColumn("Endpoint", "string", ".status.endpoint", priority=1),
        PrinterColumn("Clusters", "string", ".status.clusters[*].clusterName", priority=1),
    ),
    scale=ScaleSubresource(),
    description="A model served by an inference engine on right-sized GPU replicas.",
)
