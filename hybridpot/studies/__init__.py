"""Reproducible studies built on the library (each runnable from the command line)."""
