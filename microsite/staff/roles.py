"""Who may open what in the staff area. Every route needs a signed-in member; the routes
marked ``admin_only`` also need the admin role. The README's table says the same."""

from __future__ import annotations

ADMIN_ONLY: set[str] = set()


def admin_only(view):
    """Mark a staff view as for admins (checked by the blueprint's guard, ``views.py``).
    Put it under the route decorator."""
    ADMIN_ONLY.add(f"staff.{view.__name__}")
    return view
