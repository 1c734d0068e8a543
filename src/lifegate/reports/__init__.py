"""Conformity evaluation and report formats."""
