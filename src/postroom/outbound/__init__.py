"""Outbound HTTP to users' endpoints: the address policy (guard) and the webhook sender."""
