"""Smoke tests: prove each device can train, save and load."""
