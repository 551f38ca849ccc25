"""The Gateway API Inference Extension's ``inference.networking.k8s.io`` group, as Infleet reads it."""
