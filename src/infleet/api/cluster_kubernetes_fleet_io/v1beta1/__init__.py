"""``cluster.kubernetes-fleet.io/v1beta1`` (also served as ``v1``, same schema)."""
