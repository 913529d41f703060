"""Operators that collect what vendor jobs produce."""
