"""Compatibility knowledge: the tables in compat/ and the questions they answer."""
