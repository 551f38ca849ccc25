"""Infleet: a Kubernetes-native, multi-cluster LLM inference platform."""

__version__ = "0.1.0"
