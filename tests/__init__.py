"""The test suite, a package so that `tests.fixtures` is importable from the repository root."""
