"""The assessment context: contracts, methodologies and their scoring, sensitivity, a run's
evaluation, sanctions, rank history and the city's targets."""
