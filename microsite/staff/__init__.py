"""The staff area: sign-in, the leads dashboard, lead pages, CSV exports, testimonials.

Every route needs a signed-in staff user, checked once for the whole blueprint.
"""

from . import (  # noqa: F401  (account, set-password, team pages)
    account_views,
    audit_views,  # noqa: F401  (the access record page)
    mfa_views,  # noqa: F401  (the second factor: challenge, enrolment, recovery codes)
    runs_views,  # noqa: F401  (the runs page)
    team_views,
)
from .views import bp

__all__ = ["bp"]
