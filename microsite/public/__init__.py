"""The public site: the article, the application form and the pages around it."""

from .views import bp

__all__ = ["bp"]
