"""``gateway.aitoolchain.io/v1alpha1``: ``ModelRoute`` and ``GatewayKey``, one module each."""
