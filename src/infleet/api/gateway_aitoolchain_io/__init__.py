"""The ``gateway.aitoolchain.io`` API group: how the gateway exposes models and whom it lets in."""
