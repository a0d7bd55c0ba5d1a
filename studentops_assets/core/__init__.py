"""Shared plumbing: where local state lives, the studentops.yaml config, user-facing errors."""
