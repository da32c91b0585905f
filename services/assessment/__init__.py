"""The assessment service: methodologies, runs, rankings, sanctions."""
