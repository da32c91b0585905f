"""Runs: a methodology applied to a kind's zones for a period, stored with its exact inputs."""
