"""Socket.IO, stream logs, the outbox relay and cross-node fan-out."""
