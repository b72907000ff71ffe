"""Trial alerts: a family's opt-in to a mail when a trial that may fit opens.

The life of an alert (one ``TrialAlert`` per lead):
- The form's ``trial_alerts`` box, unticked by default, with a consent text and version
  of its own, makes a *pending* alert and queues a confirmation mail (double opt-in).
  Alerts start only once its link is followed (``/alerts/confirm/<token>``: the page
  shows a button, the POST confirms); a link not used within 7 days lapses and the
  opt-in reads as *expired*.
- Confirmed alerts are *active* for six months. A week before the end, ``flask alerts
  send`` mails a renewal with a new confirmation link; confirming it starts six more.
- The family may pause, resume, change the travel distance or postal code, or stop,
  from the page every alert mail links to (``/alerts/manage/<token>``), and stop with one
  click (``/alerts/stop/<token>``, RFC 8058). Stopping alerts withdraws nothing else.
- Alerts stop by themselves when staff set the lead's status to enrolled, not eligible
  or withdrew; they go with the lead at withdrawal, erasure and the retention purge.

Tokens are signed with SECRET_KEY and carry the lead id only (the confirmation's also the
moment it was asked for, so a link works once); no address is ever in a URL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import and_, case, literal, select

from . import dates, erasure, mail
from .extensions import db
from .models import Lead, LeadTrial, TrialAlert, utcnow
from .web.i18n import localized_endpoint
from .web.urls import absolute_url, links_anywhere

log = logging.getLogger(__name__)

# Each language's text is a text of its own, with its own version (as the main consent).
CONSENT = {
    "en": (
        "alerts-2026-12-01",
        "We look for new trials every day and write to you at most once a week, for six "
        "months, when one that may fit opens. We first send you an email to confirm. Every "
        "alert has a link to change or stop them; stopping them does not withdraw your "
        "application.",
    ),
    "es": (
        "es-alerts-2026-12-01",
        "Buscamos estudios clínicos nuevos cada día y le escribimos como mucho una vez por "
        "semana, durante seis meses, cuando se abre uno que podría ser adecuado. Primero le "
        "enviamos un correo para que lo confirme. Cada aviso tiene un enlace para cambiarlos "
        "o dejar de recibirlos; dejar de recibirlos no retira su solicitud.",
    ),
}
CONFIRM_WITHIN = timedelta(days=7)
ACTIVE_MONTHS = 6
RENEW_BEFORE = timedelta(days=7)
# The reasons an alert stopped, as staff read them.
FAMILY = "family"


def consent_text(language: str) -> str:
    return CONSENT[language][1]


# States ----------------------------------------------------------------------------------


def state(alert: TrialAlert | None, now: datetime | None = None) -> str:
    """none, pending, active, paused, expired or stopped: an opt-in not confirmed in time,
    and alerts past their six months, are expired whatever is stored."""
    if alert is None:
        return "none"
    now = now or utcnow()
    if alert.state == "pending" and alert.confirm_by is not None and alert.confirm_by <= now:
        return "expired"
    if alert.state in ("active", "paused") and alert.active_until and alert.active_until <= now:
        return "expired"
    return alert.state


def state_column(now: datetime):
    """``state`` as SQL over an outer join of TrialAlert (leads.csv's trial_alerts)."""
    return case(
        (TrialAlert.id.is_(None), literal("none")),
        (and_(TrialAlert.state == "pending", TrialAlert.confirm_by <= now), literal("expired")),
        (
            and_(TrialAlert.state.in_(("active", "paused")), TrialAlert.active_until <= now),
            literal("expired"),
        ),
        else_=TrialAlert.state,
    )


def ends_on(alert: TrialAlert | None):
    """The day (in DISPLAY_TIMEZONE) confirmed alerts end, or None."""
    if alert is None or alert.active_until is None:
        return None
    return alert.active_until.astimezone(dates.zone()).date()


def for_lead(lead_id: int) -> TrialAlert | None:
    return db.session.scalar(select(TrialAlert).where(TrialAlert.lead_id == lead_id))


# Tokens ----------------------------------------------------------------------------------


def _manage_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="trial-alerts")


def _confirm_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="trial-alerts-confirm")


def manage_token(lead: Lead) -> str:
    """The token of the manage and one-click stop links: it names the lead, never expires
    (a stop link must work in an old mail), and stops working when the lead is gone."""
    return _manage_serializer().dumps(lead.id)


def alert_from_token(token: str) -> tuple[bool, TrialAlert | None]:
    """(whether the token is ours, the lead's alert if it still exists)."""
    try:
        lead_id = _manage_serializer().loads(token)
    except BadSignature:
        return False, None
    if not isinstance(lead_id, int):
        return False, None
    return True, for_lead(lead_id)


def _stamp(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def confirm_token(alert: TrialAlert) -> str:
    return _confirm_serializer().dumps([alert.lead_id, _stamp(alert.confirm_requested_at)])


@dataclass(frozen=True)
class ConfirmLink:
    """What a confirmation link is: "ok", "used" (or replaced by a newer one), "expired"
    (older than 7 days), "gone" (the application was withdrawn) or "invalid"."""

    status: str
    alert: TrialAlert | None = None


def confirm_link(token: str) -> ConfirmLink:
    serializer = _confirm_serializer()
    try:
        payload = serializer.loads(token, max_age=int(CONFIRM_WITHIN.total_seconds()))
    except SignatureExpired:
        return ConfirmLink("expired")
    except BadSignature:
        return ConfirmLink("invalid")
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)):
        return ConfirmLink("invalid")
    alert = for_lead(payload[0])
    if alert is None:
        return ConfirmLink("gone")
    requested = alert.confirm_requested_at
    if requested is None or _stamp(requested) != payload[1] or alert.state == "stopped":
        return ConfirmLink("used", alert)
    return ConfirmLink("ok", alert)


# Changes (the caller commits) ------------------------------------------------------------


def opt_in(lead: Lead) -> TrialAlert:
    """The family ticked the box: a pending alert, and the mail to confirm it."""
    alert = TrialAlert(
        lead_id=lead.id,
        state="pending",
        consent_version=CONSENT[lead.language][0],
        consent_at=lead.consent_at,
    )
    db.session.add(alert)
    request_confirmation(alert, lead)
    return alert


def request_confirmation(alert: TrialAlert, lead: Lead, renewal: bool = False) -> None:
    """Queue a confirmation link (valid 7 days; any earlier one stops working)."""
    now = utcnow()
    alert.confirm_requested_at = now
    if renewal:
        alert.renewal_sent_at = now
    else:
        alert.state, alert.confirm_by = "pending", now + CONFIRM_WITHIN
        alert.stopped_at = alert.stop_reason = None
    with links_anywhere(), force_locale(lead.language):
        context = {
            "lead": lead,
            "renewal": renewal,
            "active_until": ends_on(alert),
            "confirm_url": _url("public.alerts_confirm", lead, token=confirm_token(alert)),
            "manage_url": _url("public.alerts_manage", lead, token=manage_token(lead)),
            "withdraw_url": _url("public.withdraw", lead, token=erasure.withdraw_token(lead)),
        }
        org = current_app.config["ORG_NAME"]
        subject = (
            gettext("Keep receiving trial alerts? – %(org)s", org=org)
            if renewal
            else gettext("Please confirm your trial alerts – %(org)s", org=org)
        )
        text, html = mail.render_pair("alert_confirmation", **context)
    mail.queue_message(
        to=lead.email,
        subject=subject,
        text=text,
        html=html,
        kind="alert_renewal" if renewal else "alert_confirmation",
        lead_id=lead.id,
    )


def confirm(alert: TrialAlert) -> None:
    """The family followed the link: alerts are on for six months from now."""
    now = utcnow()
    alert.state = "active"
    alert.confirmed_at = now
    alert.active_until = dates.add_months(now, ACTIVE_MONTHS)
    alert.confirm_requested_at = alert.confirm_by = alert.renewal_sent_at = None
    log.info("alerts: lead %d confirmed", alert.lead_id)


def pause(alert: TrialAlert) -> bool:
    """Pause active alerts; False when they are not active."""
    if state(alert) != "active":
        return False
    alert.state = "paused"
    return True


def resume(alert: TrialAlert) -> bool:
    """Resume paused alerts (until the end of their six months); False when not paused."""
    if state(alert) != "paused":
        return False
    alert.state = "active"
    return True


def stop(alert: TrialAlert, reason: str = FAMILY) -> bool:
    """Stop the alerts (nothing else about the application changes); False when they
    were already stopped."""
    if alert.state == "stopped":
        return False
    alert.state, alert.stopped_at, alert.stop_reason = "stopped", utcnow(), reason
    alert.confirm_requested_at = None
    log.info("alerts: lead %d stopped (%s)", alert.lead_id, reason)
    return True


def may_restart(alert: TrialAlert) -> bool:
    """The family may ask again for alerts they stopped, or that expired; never for
    alerts that staff's status change ended."""
    current = state(alert)
    return current == "expired" or (current == "stopped" and alert.stop_reason == FAMILY)


def stop_for_status(lead: Lead, status: str) -> None:
    """Staff closed the lead (enrolled, not eligible, withdrew): alerts end."""
    alert = for_lead(lead.id)
    if alert is not None:
        stop(alert, f"status {status}")


def found_trials(lead_id: int, since: datetime | None) -> list[LeadTrial]:
    """The trials alerts found for this lead (mailed to the family or not) since
    ``since`` (all when None), latest first."""
    query = select(LeadTrial).where(LeadTrial.lead_id == lead_id, LeadTrial.found_at.is_not(None))
    if since is not None:
        query = query.where(LeadTrial.found_at >= since)
    return list(db.session.scalars(query.order_by(LeadTrial.found_at.desc(), LeadTrial.nct_id)))


def _url(endpoint: str, lead: Lead, **values) -> str:
    return absolute_url(localized_endpoint(endpoint, lead.language), **values)


def links(lead: Lead) -> dict[str, str]:
    """The links every alert mail carries."""
    token = manage_token(lead)
    return {
        "manage_url": _url("public.alerts_manage", lead, token=token),
        "stop_url": _url("public.alerts_stop", lead, token=token),
        "withdraw_url": _url("public.withdraw", lead, token=erasure.withdraw_token(lead)),
    }
