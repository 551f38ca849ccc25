"""Policies as KubeFleet's documentation writes them (label and property affinity, preferred terms with
a sorter, topology spread, tolerations), parsed with the API type, pick what those docs describe."""

from __future__ import annotations

from typing import Any

import yaml

from infleet.api import fleet_properties as fp
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import Taint
from infleet.api.placement_kubernetes_fleet_io.v1beta1.policy import PlacementPolicy
from infleet.scheduling.placement import PlacementRequest, schedule
from tests.scheduling.placement.fleet import cluster


def _policy(text: str) -> PlacementPolicy:
    spec: dict[str, Any] = yaml.safe_load(text)
    return PlacementPolicy.model_validate(spec["policy"])


FLEET = [
    cluster("bravelion", {"system": "critical", "env": "prod"}, {fp.NODE_COUNT: "3"}),
    cluster("smartfish", {"system": "critical", "env": "staging"}, {fp.NODE_COUNT: "6"}),
    cluster("jumpingcat", {"env": "prod"}, {fp.NODE_COUNT: "9"}),
    cluster("singingbutterfly", {"env": "dev"}, {fp.NODE_COUNT: "12"}),
]


def _pick(text: str, clusters: list[Any] = FLEET) -> tuple[str, ...]:
    return schedule(PlacementRequest("crp", _policy(text)), clusters).cluster_names


def test_pick_all_with_a_required_label_selector() -> None:
    text = """
    policy:
      placementType: PickAll
      affinity:
        clusterAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            clusterSelectorTerms:
              - labelSelector:
                  matchLabels:
                    system: critical
    """
    assert set(_pick(text)) == {"bravelion", "smartfish"}


def test_pick_n_with_preferred_affinity_picks_the_preferred_first() -> None:
    text = """
    policy:
      placementType: PickN
      numberOfClusters: 2
      affinity:
        clusterAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 20
              preference:
                labelSelector:
                  matchExpressions:
                    - key: system
                      operator: DoesNotExist
    """
    assert set(_pick(text)) == {"jumpingcat", "singingbutterfly"}


def test_required_property_selector_and_descending_sorter() -> None:
    text = """
    policy:
      placementType: PickN
      numberOfClusters: 2
      affinity:
        clusterAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            clusterSelectorTerms:
              - propertySelector:
                  matchExpressions:
                    - name: kubernetes-fleet.io/node-count
                      operator: Ge
                      values:
                        - "5"
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 20
              preference:
                propertySorter:
                  name: kubernetes-fleet.io/node-count
                  sortOrder: Descending
    """
    assert _pick(text) == ("singingbutterfly", "jumpingcat")


def test_topology_spread_across_env() -> None:
    text = """
    policy:
      placementType: PickN
      numberOfClusters: 3
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: env
          whenUnsatisfiable: DoNotSchedule
    """
    picked = _pick(text)
    envs = sorted(next(c.labels["env"] for c in FLEET if c.name == name) for name in picked)
    assert envs == ["dev", "prod", "staging"]


def test_tolerations_let_a_placement_onto_a_tainted_cluster() -> None:
    tainted = [cluster("tainted", taints=(Taint(key="test-key1", value="test-value1"),)), cluster("clean")]
    without = """
    policy:
      placementType: PickAll
    """
    with_toleration = """
    policy:
      placementType: PickAll
      tolerations:
        - key: test-key1
          operator: Equal
          value: test-value1
          effect: NoSchedule
    """
    assert _pick(without, tainted) == ("clean",)
    assert set(_pick(with_toleration, tainted)) == {"clean", "tainted"}


def test_pick_fixed_places_on_the_named_clusters() -> None:
    text = """
    policy:
      placementType: PickFixed
      clusterNames:
        - jumpingcat
        - bravelion
    """
    assert _pick(text) == ("jumpingcat", "bravelion")
