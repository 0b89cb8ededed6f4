"""The operator dashboard (docs/dashboard.md): the queue, the last hour's activity, provider
circuits, dead letters, suppressions and webhook endpoints, for admin keys. parts.py is what
the composition root hands it, views.py the JSON, pages.py the HTML, routes.py the Starlette
routes (login and sessions are postroom.web's), static/ the page's own script and styles.
"""

from postroom.dashboard.parts import Circuits, DashboardParts, ProviderState
from postroom.dashboard.routes import dashboard_routes, may_use_dashboard

__all__ = ["Circuits", "DashboardParts", "ProviderState", "dashboard_routes", "may_use_dashboard"]
