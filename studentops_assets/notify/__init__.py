"""Daily, weekly and staff digests through an outbox (group `notify`)."""
