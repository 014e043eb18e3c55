"""`delivery bench`: the platform's figures, measured side by side in one run (README, Benchmarks)."""
