"""The `tracing` plugin: OpenTelemetry traces of requests, jobs, SQL and outbound calls."""
