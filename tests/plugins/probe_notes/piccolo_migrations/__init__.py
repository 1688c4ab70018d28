"""Migrations of the test plugin."""
