"""KubeFleet's ``placement.kubernetes-fleet.io`` group: placements, their snapshots and bindings, Work."""
