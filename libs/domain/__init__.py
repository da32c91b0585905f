"""The shared typed core of devzones: value objects, contracts, pure domain logic and clients.

Nothing in this package (outside ``clients/``) may import a web framework, an ORM or a
network library: it must stay importable and testable on its own.
"""
