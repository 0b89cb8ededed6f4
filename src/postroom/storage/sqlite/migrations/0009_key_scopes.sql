-- What each API key may do, and when it stops working. Every key made before scopes existed
-- keeps what it could do then: send and read its own emails ('send,read', domain/keys.py).
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'send,read';
ALTER TABLE api_keys ADD COLUMN expires_at REAL;
