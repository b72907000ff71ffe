"""Links with one language: a referral link (``/r/<code>``), robots.txt and the sitemap."""

from .views import bp

__all__ = ["bp"]
