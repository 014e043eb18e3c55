"""Starting the real topology from installed binaries: used by `delivery cluster`, tests and benchmarks."""
