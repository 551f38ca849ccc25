"""``nvidia-smi`` inside a simulated container: the GPUs the pod was given, on its node's GPU product.

Understood: plain ``nvidia-smi`` (the summary table), ``-L`` (one line per GPU) and
``--query-gpu=FIELDS --format=csv[,noheader][,nounits]``. A running engine holds 90% of each GPU's
memory, as vLLM does with its default ``--gpu-memory-utilization``. A container that requests no
``nvidia.com/gpu`` has no GPU and says so, as ``nvidia-smi`` does without a device.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Write = Callable[[bytes], Awaitable[None]]
DRIVER, CUDA = "570.124.06", "12.8"
ENGINE_MEMORY_SHARE = 0.9


@dataclass(frozen=True)
class ContainerGpus:
    """The GPUs of one container: how many, the node's product label and each one's memory."""

    count: int = 0
    product: str = ""  # the node's nvidia.com/gpu.product, e.g. NVIDIA-H100-80GB-HBM3
    memory_mib: int = 0
    engine_running: bool = False
    node: str = ""

    @property
    def name(self) -> str:
        return self.product.replace("-", " ") or "NVIDIA GPU"

    def uuid(self, index: int) -> str:
        digest = hashlib.sha256(f"{self.node}/{index}".encode()).hexdigest()
        return f"GPU-{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    def used_mib(self) -> int:
        return int(self.memory_mib * ENGINE_MEMORY_SHARE) if self.engine_running else 0


def _fields(gpus: ContainerGpus, index: int) -> dict[str, str]:
    used = gpus.used_mib()
    return {
        "index": str(index),
        "name": gpus.name,
        "uuid": gpus.uuid(index),
        "driver_version": DRIVER,
        "memory.total": f"{gpus.memory_mib} MiB",
        "memory.used": f"{used} MiB",
        "memory.free": f"{gpus.memory_mib - used} MiB",
        "utilization.gpu": f"{30 if gpus.engine_running else 0} %",
        "pci.bus_id": f"00000000:{0x18 + index * 0x10:02X}:00.0",
    }


def _row(left: str, middle: str, right: str) -> str:
    return f"|{left.ljust(41)}|{middle.rjust(23)} |{right.rjust(21)} |\n"


def _table(gpus: ContainerGpus) -> str:
    rule = "+" + "-" * 41 + "+" + "-" * 24 + "+" + "-" * 22 + "+\n"
    header = f" NVIDIA-SMI {DRIVER}      Driver Version: {DRIVER}      CUDA Version: {CUDA}"
    lines = [
        "+" + "-" * 89 + "+\n",
        f"|{header.ljust(89)}|\n",
        rule,
        _row(" GPU  Name", "Bus-Id          Disp.A", "Volatile Uncorr. ECC"),
        _row(" Fan  Temp   Perf          Pwr:Usage/Cap", "Memory-Usage", "GPU-Util  Compute M."),
        rule.replace("-", "="),
    ]
    for index in range(gpus.count):
        fields = _fields(gpus, index)
        memory = f"{gpus.used_mib()}MiB / {gpus.memory_mib}MiB"
        utilization = fields["utilization.gpu"].replace(" ", "")
        lines.append(_row(f" {index:>3}  {gpus.name[:34]}", f"{fields['pci.bus_id']} Off", "0"))
        lines.append(_row(" N/A   40C    P0            120W /  700W", memory, f"{utilization}      Default"))
        lines.append(rule)
    return "".join(lines)


async def nvidia_smi(gpus: ContainerGpus, args: list[str], stdout: Write, stderr: Write) -> int:
    if gpus.count == 0:
        await stderr(
            b"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver: "
            b"this container requests no nvidia.com/gpu\n"
        )
        return 9
    if "-L" in args or "--list-gpus" in args:
        lines = [f"GPU {i}: {gpus.name} (UUID: {gpus.uuid(i)})\n" for i in range(gpus.count)]
        await stdout("".join(lines).encode())
        return 0
    query = next((a.split("=", 1)[1] for a in args if a.startswith("--query-gpu=")), None)
    if query is None:
        await stdout(_table(gpus).encode())
        return 0
    names = [name.strip() for name in query.split(",")]
    rows = [_fields(gpus, i) for i in range(gpus.count)]
    unknown = [name for name in names if name not in rows[0]]
    if unknown:
        await stderr(f'Field "{unknown[0]}" is not a valid field to query.\n'.encode())
        return 2
    csv = next((a.split("=", 1)[1] for a in args if a.startswith("--format=")), "csv").split(",")
    lines = [] if "noheader" in csv else [", ".join(names) + "\n"]
    for row in rows:
        values = [
            row[name].removesuffix(" MiB").removesuffix(" %") if "nounits" in csv else row[name]
            for name in names
        ]
        lines.append(", ".join(values) + "\n")
    await stdout("".join(lines).encode())
    return 0
