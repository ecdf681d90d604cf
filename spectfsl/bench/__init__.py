"""The `bench` application: throughput of each workload next to its network's bare pass."""
