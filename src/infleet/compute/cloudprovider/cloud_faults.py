"""Faults a test or ``infleet up`` injects into the simulated cloud: stockouts per (cloud, region,
instance type, capacity type), launches that fail outright, and spot reclaims. The simulated provider
consults it on every launch; nothing here touches the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ANY = "*"


@dataclass(frozen=True)
class Stockout:
    """No capacity where every field matches (``*`` matches anything)."""

    cloud: str = ANY
    region: str = ANY
    instance_type: str = ANY
    capacity_type: str = ANY

    def matches(self, cloud: str, region: str, instance_type: str, capacity_type: str) -> bool:
        wanted = (self.cloud, self.region, self.instance_type, self.capacity_type)
        actual = (cloud, region, instance_type, capacity_type)
        return all(w in (ANY, a) for w, a in zip(wanted, actual, strict=True))


@dataclass
class CloudFaults:
    stockouts: set[Stockout] = field(default_factory=set)
    failing_launches: int = 0  # the next this many launches fail with a non-capacity error

    def stock_out(
        self, cloud: str = ANY, region: str = ANY, instance_type: str = ANY, capacity_type: str = ANY
    ) -> Stockout:
        stockout = Stockout(cloud, region, instance_type, capacity_type)
        self.stockouts.add(stockout)
        return stockout

    def restock(self, stockout: Stockout | None = None) -> None:
        """End one stockout, or all of them."""
        if stockout is None:
            self.stockouts.clear()
        else:
            self.stockouts.discard(stockout)

    def stocked_out(self, cloud: str, region: str, instance_type: str, capacity_type: str) -> bool:
        return any(s.matches(cloud, region, instance_type, capacity_type) for s in self.stockouts)

    def fail_launches(self, count: int = 1) -> None:
        self.failing_launches += count

    def take_launch_failure(self) -> bool:
        if self.failing_launches <= 0:
            return False
        self.failing_launches -= 1
        return True
