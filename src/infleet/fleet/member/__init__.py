"""The member agent: heartbeats and properties into the hub, Work applied into its own cluster, status
reported back; ``infleet member`` and ``infleet up`` run one per member cluster.
"""
