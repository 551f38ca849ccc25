"""Karpenter's ``karpenter.sh`` group: node pools and node claims, so Karpenter manifests work unchanged."""
