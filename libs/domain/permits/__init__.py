"""The permits context: contracts, case states, the statutory clock, land-use rules, document
numbers, statistics and the webhook target policy."""
