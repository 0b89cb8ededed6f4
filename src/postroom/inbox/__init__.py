"""The dev inbox (docs/inbox.md): the emails an `outbox://PATH` provider caught, shown the way
a mail client would, for a developer on their own machine. Only served when an outbox is
configured; only to keys `access.may_use_inbox` accepts, since it shows content by design.

messages.py reads the folder with the standard library's parser, pages.py renders the pages,
access.py decides who may look (through postroom.web's sessions and login, shared with the
dashboard), routes.py holds the Starlette routes, and static/ the pages' own script and styles.
"""

from postroom.inbox.access import may_use_inbox
from postroom.inbox.routes import inbox_routes

__all__ = ["inbox_routes", "may_use_inbox"]
