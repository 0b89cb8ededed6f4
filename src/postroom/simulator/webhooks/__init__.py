"""The simulated providers' webhooks: what each provider posts about an email it took.

For every email the simulator accepts, each recipient's events (simulator/events.py) are posted to
the URL configured for that provider, in the provider's own format and signed as the provider
signs: Mailgun's webhooks 2.0 (HMAC-SHA256), SendGrid's Event Webhook (ECDSA P-256), Postmark's
(basic auth in the URL). One module per provider builds the requests; sender.py posts them in the
background, retrying as providers do, and keeps a record for `GET /_sim/webhooks/sent`.
"""
