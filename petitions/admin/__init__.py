"""The admins' area: runtime settings, access rules, kill switches, trending sources and the
site audit log."""
