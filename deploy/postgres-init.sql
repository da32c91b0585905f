-- One database per service (each service owns its schema and migrations).
CREATE DATABASE devzones_registry;
CREATE DATABASE devzones_metrics;
CREATE DATABASE devzones_assessment;
CREATE DATABASE devzones_permits;
