"""Stand-ins for real infrastructure on one machine: simulated kubelet, cloud provider, inference engine."""
