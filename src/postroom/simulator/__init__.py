"""A local stand-in for the email providers' HTTP APIs, for tests, benchmarks and load tests.

`postroom fake-provider --port P` serves Mailgun, SendGrid and Postmark on one port, each with
its real paths, authentication, field validation and success and error bodies, plus switches for
latency, errors, outages, hangs and throttling, and a record of what it accepted.
"""
