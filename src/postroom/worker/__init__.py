"""The delivery worker: leases emails and hands each to the delivery service."""
