"""Signing a petition and confirming the signature by email."""
