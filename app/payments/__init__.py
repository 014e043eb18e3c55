"""The payment interface and the sandbox card gateway."""
