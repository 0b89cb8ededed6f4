-- What each API key may do, and when it stops working. Every key made before scopes existed
-- keeps what it could do then: send and read its own emails ('send,read', domain/keys.py).
-- A constant default and a nullable column change only the catalog: no table rewrite.
ALTER TABLE postroom_api_keys ADD COLUMN scopes text NOT NULL DEFAULT 'send,read';
ALTER TABLE postroom_api_keys ADD COLUMN expires_at double precision;
