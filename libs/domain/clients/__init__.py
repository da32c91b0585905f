"""Typed HTTP clients for each service, built on the contracts; they raise ``libs.domain.kernel.errors``."""
