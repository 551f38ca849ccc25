"""The fleet layer: which member clusters run what. ``hub`` holds the hub's controllers (membership,
scheduling, rollout, Work, status), ``member`` the member agent; they meet only in API objects on the hub.
"""
