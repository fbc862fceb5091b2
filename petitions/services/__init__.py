"""Use-cases as plain functions with explicit arguments, shared by views, the CLI and workers."""
