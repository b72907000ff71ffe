"""Helpers shared by the developer scripts in bench/ and audit/ (not part of the app)."""
