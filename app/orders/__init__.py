"""Orders: placement, the lifecycle table, refunds."""
