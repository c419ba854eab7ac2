"""What core.jobs runs for integrations (each takes ids, loads, calls a service, and is safe to run twice),
and the schedules integrations registers."""

# -- contact sync (connections) --

# -- SMS --

# -- outgoing webhooks --
