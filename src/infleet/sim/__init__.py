"""Stand-ins for real infrastructure on one machine: simulated kubelet, cloud provider and inference engine."""
