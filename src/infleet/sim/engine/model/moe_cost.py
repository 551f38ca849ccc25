"""What the routed experts of a mixture-of-experts model cost in one step, beyond the dense layers.

Four things real engines pay that the bytes of the touched experts alone miss:

- routing and permutation: per MoE layer, top-k, sort/align and the permute and combine of every routed
  token's activations (fixed kernel time plus bytes moved);
- grouped GEMMs at few tokens per expert: each touched expert's GEMM is padded to a tile of rows, and
  the grouped kernels stream weights and reach the tensor cores less well than one large GEMM;
- expert imbalance: with expert parallelism the busiest rank sets the pace (routers are skewed, and
  with few tokens random routing is lumpy);
- expert-parallel communication: a dispatch and a combine all-to-all per MoE layer instead of the
  tensor-parallel all-reduce.

Every term grows with the tokens in the step, so the step time stays monotone in the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infleet.api.catalog import ModelInfo
from infleet.sim.engine.model.efficiency import Efficiency, MoeEfficiency


@dataclass(frozen=True)
class ExpertLayout:
    """Parameters of one model split into the always-active part and its routed experts."""

    experts: int
    experts_per_token: int
    params_per_expert: float  # all layers together
    shared_params: float  # attention, router, norms, embeddings and LM head

    @classmethod
    def of(cls, model: ModelInfo) -> ExpertLayout | None:
        if model.experts is None or model.experts_per_token is None or model.active_parameters_b is None:
            return None
        e, k = model.experts, model.experts_per_token
        per_expert = (model.parameters_b - model.active_parameters_b) / (e - k) * 1e9
        shared = model.active_parameters_b * 1e9 - k * per_expert
        return cls(e, k, per_expert, max(shared, 0.0))

    def touched_fraction(self, tokens: int) -> float:
        """Expected share of a layer's experts that at least one of ``tokens`` tokens is routed to."""
        return 1.0 - (1.0 - self.experts_per_token / self.experts) ** max(tokens, 1)


class MoeCost:
    """Step time of the routed experts for one engine on one set of GPUs."""

    def __init__(
        self,
        layout: ExpertLayout,
        model: ModelInfo,
        *,
        bytes_per_param: float,
        gpus: int,
        expert_parallel: bool,
        efficiency: Efficiency,
        moe: MoeEfficiency,
        bandwidth_bytes_s: float,
        peak_flops: float,
        link_bytes_s: float,
        collective_latency_s: float,
    ) -> None:
        self.layout = layout
        self._layers = model.layers
        self._hidden = model.hidden_size
        self._bytes_per_param = bytes_per_param
        self._gpus = gpus
        self._ep = expert_parallel and gpus > 1
        self._moe = moe
        self._stream = gpus * bandwidth_bytes_s * efficiency.bandwidth * moe.bandwidth_factor
        self._raw_bandwidth = gpus * bandwidth_bytes_s
        self._flops = gpus * peak_flops * efficiency.compute * moe.compute_factor
        self._link = link_bytes_s
        self._latency = collective_latency_s

    def imbalance(self, tokens: int) -> float:
        """Busiest rank's load over the mean: 1 without expert parallelism."""
        if not self._ep:
            return 1.0
        routed = max(tokens, 1) * self.layout.experts_per_token
        return self._moe.imbalance + math.sqrt(self._gpus / routed)

    def time(self, tokens: int) -> float:
        """Seconds the expert layers of one step take with ``tokens`` tokens (prefill and decode)."""
        lay = self.layout
        touched = lay.touched_fraction(tokens)
        skew = self.imbalance(tokens)
        weight_bytes = lay.experts * touched * lay.params_per_expert * self._bytes_per_param
        memory = weight_bytes / self._stream
        # Each touched expert's GEMM wastes half a tile of padding on average.
        rows = lay.experts_per_token * tokens + lay.experts * touched * self._moe.tile_rows / 2
        compute = 2.0 * lay.params_per_expert * rows * skew / self._flops
        routed_bytes = 4.0 * tokens * lay.experts_per_token * self._hidden * 2.0  # permute + combine
        kernels = self._layers * self._moe.layer_overhead_s + routed_bytes / self._raw_bandwidth
        return max(memory, compute) + kernels + self.communication(tokens)

    def communication(self, tokens: int) -> float:
        """Expert-parallel dispatch and combine; tensor parallelism pays its all-reduces elsewhere."""
        if not self._ep:
            return 0.0
        g = self._gpus
        # Each rank sends its share of the routed token copies to the ranks holding their experts.
        payload = tokens * self.layout.experts_per_token * self._hidden * 2.0 / g * (g - 1) / g
        return 2 * self._layers * (2 * self._latency + payload / self._link)
