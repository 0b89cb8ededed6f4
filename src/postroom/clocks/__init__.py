"""Clocks: the Clock port's adapters (the wall clock; tests bring their own)."""
