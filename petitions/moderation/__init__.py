"""The moderators' area: the queue, reviews and decisions, official responses, the audit log."""
