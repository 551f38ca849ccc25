"""KubeFleet's ``cluster.kubernetes-fleet.io`` group: member clusters as the hub knows them."""
