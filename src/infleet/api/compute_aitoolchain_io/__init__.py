"""Infleet's ``compute.aitoolchain.io`` group: node classes for the compute layer."""
