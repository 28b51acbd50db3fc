"""Institutions, user accounts and roles, candidate profiles, consent and the login audit log."""
