"""The public site: the article, the application form and the pages around it."""

from . import alert_views  # noqa: F401 - its routes join the blueprint
from .views import bp

__all__ = ["bp"]
