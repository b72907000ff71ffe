"""The family's pages of their trial alerts: confirm, manage, stop. Each link's signed
token authenticates it (``alerts.py``); no page shows the diagnosis or the child's age."""

from __future__ import annotations

import logging

from flask import abort, render_template, request

from .. import alerts, erasure
from ..extensions import csrf, db
from ..web.caching import no_store
from .forms import AlertSettingsForm
from .views import bp

log = logging.getLogger(__name__)

# What each confirmation link that cannot be used answers.
_LINK_STATUS = {"expired": 410, "used": 200, "gone": 404, "invalid": 404}


@bp.route("/alerts/confirm/<token>", methods=["GET", "POST"])
@no_store
def alerts_confirm(token: str):
    """GET shows a button (a mail scanner following the link confirms nothing); the
    POST turns the alerts on."""
    link = alerts.confirm_link(token)
    if link.status != "ok":
        return _confirm_page(link, token), _LINK_STATUS[link.status]
    if request.method == "POST":
        alerts.confirm(link.alert)
        db.session.commit()
        return _confirm_page(link, token, done=True)
    return _confirm_page(link, token)


def _confirm_page(link: alerts.ConfirmLink, token: str, done: bool = False) -> str:
    alert = link.alert
    lead_token = alerts.manage_token(alert.lead) if alert is not None else None
    return render_template(
        "alerts_confirm.html",
        status="done" if done else link.status,
        alert=alert,
        state=alerts.state(alert) if alert is not None else None,
        ends_on=alerts.ends_on(alert),
        token=token,
        manage_token=lead_token,
    )


@bp.route("/alerts/manage/<token>", methods=["GET", "POST"])
@no_store
def alerts_manage(token: str):
    _, alert = alerts.alert_from_token(token)
    if alert is None:
        return render_template("alerts_manage.html", alert=None), 404
    lead = alert.lead
    if request.method == "GET":
        return _manage_page(alert, AlertSettingsForm(obj=lead), token)
    # CSRFProtect has checked the token; the fields matter only to "save".
    action = request.form.get("action")
    form = AlertSettingsForm()
    if action == "save":
        if not form.validate():
            return _manage_page(alert, form, token), 422
        for name, value in form.settings().items():
            setattr(lead, name, value)
    elif action in _CHANGES:
        if not _CHANGES[action](alert):  # a second press, or a page left open: no change
            return _manage_page(
                alert, AlertSettingsForm(obj=lead, formdata=None), token, "unchanged"
            )
    else:
        abort(400)
    db.session.commit()
    log.info("alerts: lead %d, %s on the manage page", lead.id, action)
    return _manage_page(alert, AlertSettingsForm(obj=lead, formdata=None), token, action)


def _restart(alert) -> bool:
    if not alerts.may_restart(alert):
        return False
    alerts.request_confirmation(alert, alert.lead)
    return True


# Each button of the manage page but "save": what it does, False when it cannot be done.
_CHANGES = {
    "pause": alerts.pause,
    "resume": alerts.resume,
    "stop": alerts.stop,
    "restart": _restart,
}


def _manage_page(alert, form, token: str, saved: str | None = None) -> str:
    return render_template(
        "alerts_manage.html",
        alert=alert,
        state=alerts.state(alert),
        ends_on=alerts.ends_on(alert),
        may_restart=alerts.may_restart(alert),
        form=form,
        token=token,
        saved=saved,
        withdraw_token=erasure.withdraw_token(alert.lead),
    )


@bp.get("/alerts/stop/<token>")
@no_store
def alerts_stop(token: str):
    _, alert = alerts.alert_from_token(token)
    if alert is None:
        return render_template("alerts_stop.html", alert=None), 404
    return render_template("alerts_stop.html", alert=alert, token=token, state=alerts.state(alert))


@bp.post("/alerts/stop/<token>")
@csrf.exempt  # the signed token authenticates it, as RFC 8058 one-click unsubscribe needs
@no_store
def alerts_stop_confirmed(token: str):
    _, alert = alerts.alert_from_token(token)
    if alert is None:
        return render_template("alerts_stop.html", alert=None), 404
    alerts.stop(alert)
    db.session.commit()
    return render_template("alerts_stop.html", alert=alert, token=token, done=True)
