"""What stands in for real infrastructure on one machine: simulated nodes, kubelet, scheduler and
workload controllers (``infleet up`` and tests start them), and the simulated inference engine."""
