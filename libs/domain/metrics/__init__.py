"""The metrics context: contracts, the indicator catalog, units, formulas, the ledger, the
matrix, quality checks and a county's scope."""
