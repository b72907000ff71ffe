"""The staff area: sign-in, the leads dashboard, lead pages, CSV exports, testimonials.

Every route needs a signed-in staff user, checked once for the whole blueprint.
"""

from .views import bp

__all__ = ["bp"]
