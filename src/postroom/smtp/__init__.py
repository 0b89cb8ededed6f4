"""SMTP submission intake (`postroom smtp`, and `serve` with POSTROOM_SMTP_PORT): MIME in, the
same validation, limits and durable store as POST /api/v1/email (docs/smtp.md)."""
