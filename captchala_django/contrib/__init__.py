"""Integrations with other Django packages, each imported only by sites that use it."""
