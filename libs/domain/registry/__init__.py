"""The zone registry's context: its contracts, the reorganisation algebra, names, and the
in-memory reference model of zone history the tests compare the database against."""
