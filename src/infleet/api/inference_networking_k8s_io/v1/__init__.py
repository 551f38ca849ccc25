"""``inference.networking.k8s.io/v1``: GIE's ``InferencePool``."""
