"""The ``CloudProvider`` port the compute layer talks to, and its simulated implementation beside it."""
