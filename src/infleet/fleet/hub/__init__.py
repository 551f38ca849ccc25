"""The hub's controllers: membership and health, placement snapshots, the scheduler, rollout, Work and
status; ``infleet hub`` and ``infleet up`` run them against the hub cluster.
"""
