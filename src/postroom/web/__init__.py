"""What the service's own browser pages share (the dev inbox, the dashboard): cookie sessions
(sessions.py), who may look and the same-origin check (access.py), logging in and out with a
key (login.py), and the answers' headers and error envelope (responses.py)."""
