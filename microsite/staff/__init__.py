"""The staff area: sign-in, the leads dashboard, lead pages, CSV exports, testimonials.

Every route needs a signed-in staff user, checked once for the whole blueprint.
"""

from . import account_views, team_views  # noqa: F401  (account, set-password, team pages)
from .views import bp

__all__ = ["bp"]
