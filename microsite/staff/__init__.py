"""The staff area: sign-in, the leads dashboard, lead pages, CSV exports, testimonials.

Every route needs a signed-in staff user, checked once for the whole blueprint.
"""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from . import views  # noqa: E402,F401  (registers the routes on bp)
