"""The public site: the article, the application form and the pages around it."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import views  # noqa: E402,F401  (registers the routes on bp)
