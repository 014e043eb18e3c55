"""The audit log of admin actions, written in each action's own transaction, wherever it runs."""
