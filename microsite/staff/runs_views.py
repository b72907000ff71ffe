"""The runs page: the last run of every timer job (``runs.JOBS``), for admins."""

from __future__ import annotations

from flask import render_template

from .. import runs as job_runs
from .roles import admin_only
from .views import bp


@bp.get("/runs")
@admin_only
def runs():
    return render_template("staff/runs.html", jobs=job_runs.overview())
