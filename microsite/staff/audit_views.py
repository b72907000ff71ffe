"""The access record's page and its CSV, for admins (``access.py`` holds the rules)."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context
from flask_login import current_user

from .. import access, exports
from .audit_forms import AccessFilterForm
from .roles import admin_only
from .views import MAX_PAGE, bp

FILTER_NAMES = ("staff", "lead", "from", "to")


def _filter_args() -> dict[str, str]:
    return {name: value for name, value in request.args.items() if name in FILTER_NAMES and value}


@bp.get("/access")
@admin_only
def audit():
    form = AccessFilterForm(request.args)
    if not form.validate():
        return render_template("staff/audit.html", form=form, page=None, args={}), 422
    page_number = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    return render_template(
        "staff/audit.html",
        form=form,
        page=access.entries(form.filters(), page_number),
        args=_filter_args(),
        actions=access.ACTIONS,
    )


@bp.get("/access.csv")
@admin_only
def audit_csv():
    form = AccessFilterForm(request.args)
    if not form.validate():
        problems = " ".join(errors[0] for errors in form.errors.values())
        return Response(f"{problems}\n", status=400, mimetype="text/plain")
    export = exports.access_export(form.filters(), actor=current_user.email)
    response = Response(stream_with_context(iter(export)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
