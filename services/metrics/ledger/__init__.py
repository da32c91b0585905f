"""The metrics service: ledger."""
