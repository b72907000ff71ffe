"""Trial alerts as families and staff meet them: the opt-in on the form and its confirmation
link, the daily `flask alerts send`, the manage and stop pages, the stops, the erasure, and
what staff see. Mail is read as the real SMTP server on loopback received it, after
`flask outbox send`.

Time travel moves the stored moments back (TrialAlert's timestamps, Lead.created_at,
Lead.patient_age_given_on); only the signed confirmation links, whose age itsdangerous
reads from its own clock, are made older by moving that clock ahead.
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import date, datetime, timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select, update

from microsite import alerts, dates
from microsite.choices import DIAGNOSES
from microsite.extensions import db
from microsite.models import (
    JobRun,
    Lead,
    LeadMatch,
    LeadTrial,
    OutboxMessage,
    Trial,
    TrialAlert,
    TrialSite,
    utcnow,
)
from tests.helpers import (
    PUBLIC_URL,
    VALID_APPLICATION,
    add_located_trial,
    add_postal_codes,
    add_trial,
    count,
    create_staff_user,
    csrf_token,
    log_in,
    post_on_lead_page,
    rendered_hidden_fields,
    rows,
    submit_application,
)

# Real children's hospitals, at their city's coordinates; a family in 60637 (Chicago).
CHICAGO = ("Lurie Children's Hospital", "Chicago", "Illinois", "US", 41.89601, -87.62147)
MEMPHIS = (
    "St. Jude Children's Research Hospital",
    "Memphis",
    "Tennessee",
    "US",
    35.14953,
    -90.04898,
)  # about 770 km from 60637
IN_CHICAGO = {"country": "US", "postal_code": "60637", "travel_distance": "160"}
EMAIL = VALID_APPLICATION["email"]
ALERT_SUBJECT = "New trials that may fit"
ONE_CLICK = "List-Unsubscribe=One-Click"


# --- Driving the site and reading the mail -------------------------------------------------


def cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def send_alerts(app) -> str:
    return cli(app, "alerts", "send")


def received(app, smtp_server, kind: str, lead_id: int | None = None) -> list:
    """The messages of one outbox kind (of one lead) the SMTP server has received, oldest
    first, once `flask outbox send` has delivered what is due."""
    cli(app, "outbox", "send")
    kinds = {
        message.message_id: (message.kind, message.lead_id) for message in rows(app, OutboxMessage)
    }
    found = []
    for _, _, message in smtp_server.messages:
        message_kind, message_lead = kinds.get(str(message["Message-ID"]), (None, None))
        if message_kind == kind and (lead_id is None or message_lead == lead_id):
            found.append(message)
    return found


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def path_in(message, route: str) -> str:
    """The path of the one link to ``route`` ("alerts/confirm", "withdraw", ...) in a mail."""
    found = set(
        re.findall(rf"{re.escape(PUBLIC_URL)}((?:/es)?/{route}/[^\s<>\"]+)", text_of(message))
    )
    assert len(found) == 1, (route, found)
    return found.pop()


def trial_links(message) -> list[str]:
    return re.findall(rf"{re.escape(PUBLIC_URL)}/trials/(NCT\d+)", text_of(message))


def thanks_page(client) -> str:
    page = client.get("/apply/thanks")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def lead_id_of(app, email: str = EMAIL) -> int:
    [lead] = rows(app, Lead, Lead.email == email)
    return lead.id


def alert_of(app, lead_id: int) -> TrialAlert:
    [alert] = rows(app, TrialAlert, TrialAlert.lead_id == lead_id)
    return alert


def opt_in(app, path: str = "/apply", **answers) -> int:
    """Apply with the trial alerts box ticked; returns the lead's id."""
    submit_application(app, path, trial_alerts="y", **answers)
    return lead_id_of(app, answers.get("email", EMAIL))


def press(app, path: str, **data):
    """Open the page at ``path`` in a new browser, then send its form back with the page's
    CSRF token and ``data``."""
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    fields = rendered_hidden_fields(page.get_data(as_text=True))
    return client.post(path, data={**fields, **data})


def confirmed(app, smtp_server, **answers) -> int:
    """A family who opted in and pressed the button behind their confirmation link."""
    lead_id = opt_in(app, **answers)
    [mail] = received(app, smtp_server, "alert_confirmation", lead_id)
    assert press(app, path_in(mail, "alerts/confirm")).status_code == 200
    assert alert_of(app, lead_id).state == "active"
    return lead_id


def manage_path(app, smtp_server, lead_id: int) -> str:
    [mail, *_] = received(app, smtp_server, "alert_confirmation", lead_id)
    return path_in(mail, "alerts/manage")


def manage(app, path: str, action: str, **fields):
    response = press(app, path, action=action, **fields)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def staff_client(app):
    create_staff_user(app)
    client = app.test_client()
    assert log_in(client).status_code == 303
    return client


def set_status(staff, lead_id: int, status: str) -> None:
    response = post_on_lead_page(staff, lead_id, "status", status=status)
    assert response.status_code == 303


# --- Time travel -------------------------------------------------------------------------


def change(app, model, *where, **values) -> None:
    with app.app_context():
        db.session.execute(update(model).where(*where).values(**values))
        db.session.commit()


def last_alert_days_ago(app, lead_id: int, days: int) -> None:
    """The family's last alert went out ``days`` calendar days ago (at that day's start
    in DISPLAY_TIMEZONE, so the count of days is exact whatever the hour)."""
    with app.app_context():
        moment = dates.start_of(dates.today() - timedelta(days=days))
    change(app, TrialAlert, TrialAlert.lead_id == lead_id, last_mailed_at=moment)


def alerts_end_in(app, lead_id: int, delta: timedelta) -> None:
    change(app, TrialAlert, TrialAlert.lead_id == lead_id, active_until=utcnow() + delta)


def confirmation_links_age(app, monkeypatch, days: int) -> None:
    """``days`` pass for the opt-ins waiting for confirmation: the moment they lapse, as
    stored, moves back, and itsdangerous's clock (which dates the links) moves ahead. (The
    moment the link was asked for stays: the link names it.)"""
    with app.app_context():
        for alert in db.session.scalars(select(TrialAlert).where(TrialAlert.state == "pending")):
            alert.confirm_by -= timedelta(days=days)
        db.session.commit()
    ahead = days * 24 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) + ahead)


def months_ago(app, months: int) -> date:
    """The day ``months`` calendar months before today (in DISPLAY_TIMEZONE)."""
    with app.app_context():
        today = datetime.combine(dates.today(), datetime.min.time())
    return dates.add_months(today, -months).date()


# --- 1. Opting in ------------------------------------------------------------------------


@pytest.mark.parametrize("path, language", [("/apply", "en"), ("/es/apply", "es")])
def test_the_form_offers_an_unticked_optional_alerts_box_with_a_consent_text_of_its_own(
    client, path, language
):
    html = client.get(path).get_data(as_text=True)
    [box] = re.findall(r'<input[^>]*name="trial_alerts"[^>]*>', html)
    assert 'type="checkbox"' in box and 'value="y"' in box
    assert "checked" not in box and "required" not in box
    assert 'aria-describedby="trial_alerts-hint"' in box
    text = alerts.consent_text(language)
    assert re.search(rf'id="trial_alerts-hint">{re.escape(text)}</p>', html)


def test_without_the_box_there_is_no_alert_and_no_mail_to_confirm_one(mail_app, smtp_server):
    client = submit_application(mail_app)
    assert count(mail_app, TrialAlert) == 0
    assert received(mail_app, smtp_server, "alert_confirmation") == []
    assert len(received(mail_app, smtp_server, "confirmation")) == 1  # the application's
    assert len(smtp_server.messages) == 1
    assert "Confirm your trial alerts" not in thanks_page(client)


@pytest.mark.parametrize(
    "path, language, subject, greeting, asks",
    [
        (
            "/apply",
            "en",
            "Please confirm your trial alerts – Trial Finder",
            "Hello Alex Example,",
            "To start these alerts, confirm here within 7 days:",
        ),
        (
            "/es/apply",
            "es",
            "Confirme sus avisos de estudios clínicos – Trial Finder",
            "Hola, Alex Example:",
            "Para que empiecen estos avisos, confírmelo aquí en un plazo de 7 días:",
        ),
    ],
)
def test_with_the_box_a_pending_alert_and_one_confirmation_mail_in_the_leads_language(
    mail_app, smtp_server, path, language, subject, greeting, asks
):
    client = submit_application(mail_app, path, trial_alerts="y")
    [lead] = rows(mail_app, Lead)
    alert = alert_of(mail_app, lead.id)
    assert alert.state == "pending" and alert.confirmed_at is None
    assert alert.consent_version == alerts.CONSENT[language][0]
    assert alert.consent_at == lead.consent_at
    assert alert.confirm_by == alert.confirm_requested_at + timedelta(days=7)
    if language == "en":
        assert "Confirm your trial alerts" in thanks_page(client)

    [mail] = received(mail_app, smtp_server, "alert_confirmation")
    [recipients] = [to for _, to, message in smtp_server.messages if message is mail]
    assert recipients == [EMAIL]
    assert mail["Subject"] == subject
    body = text_of(mail)
    assert body.startswith(greeting) and asks in body
    assert path_in(mail, "alerts/confirm").startswith("/es/" if language == "es" else "/alerts/")


def test_the_confirm_link_shows_a_button_and_only_its_post_turns_alerts_on_for_six_months(
    mail_app, smtp_server
):
    lead_id = opt_in(mail_app)
    [mail] = received(mail_app, smtp_server, "alert_confirmation")
    path = path_in(mail, "alerts/confirm")
    browser = mail_app.test_client()

    page = browser.get(path)  # what a mail scanner following the link does
    assert page.status_code == 200
    assert "Yes, send me trial alerts" in page.get_data(as_text=True)
    assert alert_of(mail_app, lead_id).state == "pending"
    assert browser.post(path).status_code == 400  # no CSRF token
    assert alert_of(mail_app, lead_id).state == "pending"

    fields = rendered_hidden_fields(page.get_data(as_text=True))
    done = browser.post(path, data=fields)
    assert done.status_code == 200
    assert "Your trial alerts are on" in done.get_data(as_text=True)
    alert = alert_of(mail_app, lead_id)
    assert alert.state == "active"
    assert alert.active_until == dates.add_months(alert.confirmed_at, 6)

    for again in (browser.get(path), browser.post(path, data=fields)):
        assert again.status_code == 200
        assert "This link has been used" in again.get_data(as_text=True)
    assert alert_of(mail_app, lead_id).state == "active"
    assert alert_of(mail_app, lead_id).active_until == alert.active_until


@pytest.mark.parametrize("broken", ["/alerts/confirm/not-a-token", "cut"])
def test_a_broken_confirm_link_answers_404(mail_app, smtp_server, broken):
    opt_in(mail_app)
    [mail] = received(mail_app, smtp_server, "alert_confirmation")
    path = path_in(mail, "alerts/confirm")[:-3] if broken == "cut" else broken
    response = mail_app.test_client().get(path)
    assert response.status_code == 404
    assert "This link does not work" in response.get_data(as_text=True)


def test_a_confirm_link_older_than_7_days_answers_410_and_the_opt_in_reads_expired(
    mail_app, smtp_server, monkeypatch
):
    lead_id = opt_in(mail_app)
    [mail] = received(mail_app, smtp_server, "alert_confirmation")
    confirmation_links_age(mail_app, monkeypatch, days=8)
    response = mail_app.test_client().get(path_in(mail, "alerts/confirm"))
    assert response.status_code == 410
    assert "This link has expired" in response.get_data(as_text=True)
    assert alert_of(mail_app, lead_id).confirmed_at is None
    page = mail_app.test_client().get(path_in(mail, "alerts/manage")).get_data(as_text=True)
    assert "Alerts have ended." in page

    add_trial(mail_app, "NCT00000002", sites=[("GB", "RECRUITING")])
    assert "1 alert expired" in send_alerts(mail_app)
    assert alert_of(mail_app, lead_id).state == "expired"
    assert received(mail_app, smtp_server, "trial_alert") == []


# --- 2-8. What `flask alerts send` mails ---------------------------------------------------


def test_nothing_new_means_no_mail_and_trials_shown_on_the_thanks_page_are_never_mailed(
    mail_app, smtp_server
):
    add_trial(mail_app, "NCT00000001", sites=[("GB", "RECRUITING")])
    lead_id = confirmed(mail_app, smtp_server)
    assert [m.nct_id for m in rows(mail_app, LeadMatch)] == ["NCT00000001"]  # shown

    assert send_alerts(mail_app).startswith("Queued: 0 alert mails")
    assert count(mail_app, OutboxMessage, OutboxMessage.kind == "trial_alert") == 0
    assert received(mail_app, smtp_server, "trial_alert") == []

    add_trial(mail_app, "NCT00000002", sites=[("GB", "RECRUITING")])
    assert send_alerts(mail_app).startswith("Queued: 1 alert mail ")
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    assert trial_links(mail) == ["NCT00000002"]


def test_a_new_trial_within_the_travel_distance_is_mailed_once_with_its_site_and_links(
    mail_app, smtp_server
):
    add_postal_codes(mail_app, "60637")
    lead_id = confirmed(mail_app, smtp_server, **IN_CHICAGO)
    add_located_trial(mail_app, "NCT00000010", CHICAGO, title="Immunotherapy after induction")
    assert send_alerts(mail_app).startswith("Queued: 1 alert mail ")
    assert send_alerts(mail_app).startswith("Queued: 0 alert mails")

    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    assert mail["Subject"] == ALERT_SUBJECT
    body = text_of(mail)
    assert "Immunotherapy after induction" in body
    site = re.search(
        r"Nearest site: Lurie Children's Hospital, Chicago, United States "
        r"\(about (\d+) mi \((\d+) km\)\)",
        body,
    )
    assert site and 10 <= int(site.group(2)) <= 20
    assert trial_links(mail) == ["NCT00000010"]
    assert "The trial team decides who can take part." in body
    assert "Immunotherapy after induction" in html_of(mail)
    browser = mail_app.test_client()
    assert browser.get("/trials/NCT00000010").status_code == 200
    for route in ("alerts/manage", "alerts/stop", "withdraw"):
        assert browser.get(path_in(mail, route)).status_code == 200, route


def test_an_alert_mail_names_at_most_five_trials(mail_app, smtp_server):
    lead_id = confirmed(mail_app, smtp_server)
    for number in range(1, 8):
        add_trial(mail_app, f"NCT0000010{number}", sites=[("GB", "RECRUITING")])
    send_alerts(mail_app)
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    assert len(set(trial_links(mail))) == 5
    assert "We found 5 new trials that may fit:" in text_of(mail)


def test_a_second_new_trial_waits_until_the_interval_has_passed_then_comes_alone(
    mail_app, smtp_server
):
    interval = mail_app.config["ALERT_INTERVAL_DAYS"]
    lead_id = confirmed(mail_app, smtp_server)
    add_trial(mail_app, "NCT00000001", sites=[("GB", "RECRUITING")])
    send_alerts(mail_app)
    add_trial(mail_app, "NCT00000002", sites=[("GB", "RECRUITING")])
    for days in (1, interval - 1):  # the next day, and the day before the interval ends
        last_alert_days_ago(mail_app, lead_id, days)
        assert send_alerts(mail_app).startswith("Queued: 0 alert mails"), days
        assert len(received(mail_app, smtp_server, "trial_alert")) == 1
    last_alert_days_ago(mail_app, lead_id, interval)
    assert send_alerts(mail_app).startswith("Queued: 1 alert mail ")
    first, second = received(mail_app, smtp_server, "trial_alert")
    assert trial_links(first) == ["NCT00000001"]
    assert trial_links(second) == ["NCT00000002"]


def test_a_child_who_grows_into_a_trials_age_range_gets_it(mail_app, smtp_server):
    add_trial(mail_app, "NCT00000005", min_age=60, sites=[("GB", "RECRUITING")])  # 5 years
    lead_id = confirmed(mail_app, smtp_server, patient_age="4")
    assert rows(mail_app, LeadMatch) == []  # not shown at 4
    send_alerts(mail_app)
    assert received(mail_app, smtp_server, "trial_alert") == []

    change(mail_app, Lead, Lead.id == lead_id, patient_age_given_on=months_ago(mail_app, 13))
    send_alerts(mail_app)
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    assert trial_links(mail) == ["NCT00000005"]


def test_a_trial_shown_as_not_yet_recruiting_is_mailed_once_it_opens_one_shown_recruiting_is_not(
    mail_app, smtp_server
):
    add_trial(
        mail_app,
        "NCT00000001",
        status="NOT_YET_RECRUITING",
        sites=[("GB", "NOT_YET_RECRUITING")],
        title="Opening soon",
    )
    add_trial(mail_app, "NCT00000002", sites=[("GB", "RECRUITING")], title="Open already")
    client = submit_application(mail_app, trial_alerts="y")
    thanks = thanks_page(client)
    assert "Opening soon" in thanks and "Open already" in thanks
    lead_id = lead_id_of(mail_app)
    [confirmation] = received(mail_app, smtp_server, "alert_confirmation")
    press(mail_app, path_in(confirmation, "alerts/confirm"))
    send_alerts(mail_app)
    assert received(mail_app, smtp_server, "trial_alert") == []

    # The sync finds it open.
    with mail_app.app_context():
        trial = db.session.scalar(select(Trial).where(Trial.nct_id == "NCT00000001"))
        trial.overall_status = "RECRUITING"
        db.session.execute(
            update(TrialSite).where(TrialSite.trial_id == trial.id).values(status="RECRUITING")
        )
        db.session.commit()
    send_alerts(mail_app)
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    assert trial_links(mail) == ["NCT00000001"]


def test_match_again_keeps_the_record_of_what_was_shown(mail_app, smtp_server):
    add_trial(mail_app, "NCT00000001", sites=[("GB", "RECRUITING")])  # shown at applying
    lead_id = confirmed(mail_app, smtp_server)
    for number in range(2, 7):  # five more recent trials push it out of the list
        add_trial(
            mail_app, f"NCT0000000{number}", sites=[("GB", "RECRUITING")], updated=date(2026, 11, 1)
        )
    staff = staff_client(mail_app)
    assert post_on_lead_page(staff, lead_id, "matches").status_code == 303
    matched = {m.nct_id for m in rows(mail_app, LeadMatch, LeadMatch.lead_id == lead_id)}
    assert matched == {f"NCT0000000{number}" for number in range(2, 7)}

    add_trial(mail_app, "NCT00000007", sites=[("GB", "RECRUITING")], updated=date(2026, 9, 1))
    send_alerts(mail_app)
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    assert trial_links(mail) == ["NCT00000007"]  # never NCT00000001


def test_a_trial_beyond_the_travel_distance_is_not_mailed(mail_app, smtp_server):
    add_postal_codes(mail_app, "60637")
    lead_id = confirmed(mail_app, smtp_server, **IN_CHICAGO)
    add_located_trial(mail_app, "NCT00000020", MEMPHIS)
    assert send_alerts(mail_app).startswith("Queued: 0 alert mails")
    add_located_trial(mail_app, "NCT00000021", CHICAGO)
    send_alerts(mail_app)
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    assert trial_links(mail) == ["NCT00000021"]


@pytest.mark.parametrize(
    "answers",
    [
        {**IN_CHICAGO, "travel_distance": "any"},
        {**IN_CHICAGO, "postal_code": "60601"},  # a real ZIP, not in the table: not located
    ],
    ids=["any distance", "postal code not located"],
)
def test_a_far_trial_is_mailed_with_any_distance_or_an_unlocated_postal_code(
    mail_app, smtp_server, answers
):
    add_postal_codes(mail_app, "60637")
    lead_id = confirmed(mail_app, smtp_server, **answers)
    add_located_trial(mail_app, "NCT00000020", MEMPHIS)
    send_alerts(mail_app)
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    assert trial_links(mail) == ["NCT00000020"]


# --- 9. The manage page ------------------------------------------------------------------


def test_the_manage_page_saves_a_postal_code_and_distance_that_the_next_run_uses(
    mail_app, smtp_server
):
    add_postal_codes(mail_app, "60637", "38105")
    lead_id = confirmed(mail_app, smtp_server, **IN_CHICAGO)
    add_located_trial(mail_app, "NCT00000020", MEMPHIS)
    send_alerts(mail_app)
    assert received(mail_app, smtp_server, "trial_alert") == []

    path = manage_path(mail_app, smtp_server, lead_id)
    page = mail_app.test_client().get(path).get_data(as_text=True)
    assert 'value="60637"' in page
    page = manage(mail_app, path, "save", postal_code="38105", travel_distance="80")
    assert "Your changes are saved." in page
    [lead] = rows(mail_app, Lead)
    assert (lead.postal_code, lead.travel_distance) == ("38105", "80")

    send_alerts(mail_app)
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    assert trial_links(mail) == ["NCT00000020"]
    assert re.search(r"Memphis, United States \(about \d+ mi \(\d+ km\)\)", text_of(mail))


def test_a_bad_postal_code_on_the_manage_page_answers_422_and_keeps_what_was_typed(
    mail_app, smtp_server
):
    lead_id = confirmed(mail_app, smtp_server, **IN_CHICAGO)
    path = manage_path(mail_app, smtp_server, lead_id)
    response = press(
        mail_app, path, action="save", postal_code="1234567890123", travel_distance="400"
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Use 12 characters or fewer." in page
    assert 'value="1234567890123"' in page
    [chosen] = [tag for tag in re.findall(r"<input[^>]*>", page) if 'value="400"' in tag]
    assert "checked" in chosen
    [lead] = rows(mail_app, Lead)
    assert (lead.postal_code, lead.travel_distance) == ("60637", "160")


def test_paused_alerts_send_nothing_until_resumed(mail_app, smtp_server):
    lead_id = confirmed(mail_app, smtp_server)
    path = manage_path(mail_app, smtp_server, lead_id)
    assert "Your alerts are paused." in manage(mail_app, path, "pause")
    assert alert_of(mail_app, lead_id).state == "paused"
    add_trial(mail_app, "NCT00000001", sites=[("GB", "RECRUITING")])
    send_alerts(mail_app)
    assert received(mail_app, smtp_server, "trial_alert") == []

    assert "Your alerts are on again." in manage(mail_app, path, "resume")
    send_alerts(mail_app)
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    assert trial_links(mail) == ["NCT00000001"]


def test_a_family_who_stopped_alerts_may_turn_them_on_again_with_a_new_confirmation(
    mail_app, smtp_server
):
    lead_id = confirmed(mail_app, smtp_server)
    path = manage_path(mail_app, smtp_server, lead_id)
    assert "Your alerts are stopped." in manage(mail_app, path, "stop")
    assert alert_of(mail_app, lead_id).state == "stopped"
    add_trial(mail_app, "NCT00000001", sites=[("GB", "RECRUITING")])
    send_alerts(mail_app)
    assert received(mail_app, smtp_server, "trial_alert") == []

    page = mail_app.test_client().get(path).get_data(as_text=True)
    assert "Turn alerts on again" in page
    assert "We have sent you an email" in manage(mail_app, path, "restart")
    first, second = received(mail_app, smtp_server, "alert_confirmation", lead_id)
    old = mail_app.test_client().get(path_in(first, "alerts/confirm"))
    assert "This link has been used" in old.get_data(as_text=True)
    assert press(mail_app, path_in(second, "alerts/confirm")).status_code == 200
    assert alert_of(mail_app, lead_id).state == "active"
    send_alerts(mail_app)
    assert len(received(mail_app, smtp_server, "trial_alert", lead_id)) == 1


def test_turning_alerts_on_again_is_not_offered_after_staff_closed_the_lead(mail_app, smtp_server):
    lead_id = confirmed(mail_app, smtp_server)
    set_status(staff_client(mail_app), lead_id, "enrolled")
    path = manage_path(mail_app, smtp_server, lead_id)
    page = mail_app.test_client().get(path).get_data(as_text=True)
    assert "Turn alerts on again" not in page
    assert "Your patient navigator ended the alerts." in page
    assert "Nothing has changed" in manage(mail_app, path, "restart")
    assert alert_of(mail_app, lead_id).state == "stopped"
    assert len(received(mail_app, smtp_server, "alert_confirmation", lead_id)) == 1


# --- 10. Stops, expiry and renewal --------------------------------------------------------


@pytest.mark.parametrize("status", ["enrolled", "not_eligible", "withdrew"])
def test_staff_closing_the_lead_stops_its_alerts(mail_app, smtp_server, status):
    lead_id = confirmed(mail_app, smtp_server)
    set_status(staff_client(mail_app), lead_id, status)
    alert = alert_of(mail_app, lead_id)
    assert (alert.state, alert.stop_reason) == ("stopped", f"status {status}")
    add_trial(mail_app, "NCT00000001", sites=[("GB", "RECRUITING")])
    send_alerts(mail_app)
    assert received(mail_app, smtp_server, "trial_alert") == []


def test_the_one_click_stop_of_the_mail_header_stops_alerts_and_keeps_the_application(
    mail_app, smtp_server
):
    lead_id = confirmed(mail_app, smtp_server)
    add_trial(mail_app, "NCT00000001", sites=[("GB", "RECRUITING")])
    send_alerts(mail_app)
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    stop_path = path_in(mail, "alerts/stop")
    # Folded onto its own line when long (RFC 5322 folding white space, which readers drop).
    assert mail["List-Unsubscribe"].strip() == f"<{PUBLIC_URL}{stop_path}>"
    assert mail["List-Unsubscribe-Post"] == ONE_CLICK

    mail_client = mail_app.test_client()  # a mail provider: no cookie, no CSRF token
    assert mail_client.get(stop_path).status_code == 200
    assert alert_of(mail_app, lead_id).state == "active"  # the GET is a page with a button
    response = mail_client.post(
        stop_path, data=ONE_CLICK, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert alert_of(mail_app, lead_id).state == "stopped"
    [lead] = rows(mail_app, Lead)
    assert (lead.id, lead.status) == (lead_id, "new")

    add_trial(mail_app, "NCT00000002", sites=[("GB", "RECRUITING")])
    last_alert_days_ago(mail_app, lead_id, 30)
    send_alerts(mail_app)
    assert len(received(mail_app, smtp_server, "trial_alert")) == 1


def test_alerts_expire_after_their_six_months(mail_app, smtp_server):
    lead_id = confirmed(mail_app, smtp_server)
    alerts_end_in(mail_app, lead_id, -timedelta(minutes=1))
    add_trial(mail_app, "NCT00000001", sites=[("GB", "RECRUITING")])
    assert "1 alert expired" in send_alerts(mail_app)
    assert alert_of(mail_app, lead_id).state == "expired"
    assert received(mail_app, smtp_server, "trial_alert") == []


def test_a_renewal_mail_a_week_before_the_end_extends_alerts_by_six_months_once(
    mail_app, smtp_server
):
    lead_id = confirmed(mail_app, smtp_server)
    alerts_end_in(mail_app, lead_id, timedelta(days=8))
    assert "and 0 renewals" in send_alerts(mail_app)
    alerts_end_in(mail_app, lead_id, timedelta(days=6))
    assert "and 1 renewal;" in send_alerts(mail_app)
    assert "and 0 renewals" in send_alerts(mail_app)  # one renewal mail only
    [renewal] = received(mail_app, smtp_server, "alert_renewal", lead_id)
    assert renewal["Subject"] == "Keep receiving trial alerts? – Trial Finder"
    assert "Your trial alerts end on" in text_of(renewal)

    path = path_in(renewal, "alerts/confirm")
    page = mail_app.test_client().get(path)
    assert "for six more months" in page.get_data(as_text=True)
    assert press(mail_app, path).status_code == 200
    alert = alert_of(mail_app, lead_id)
    assert alert.state == "active"
    assert alert.active_until == dates.add_months(alert.confirmed_at, 6)
    assert "This link has been used" in mail_app.test_client().get(path).get_data(as_text=True)
    assert "and 0 renewals" in send_alerts(mail_app)
    assert len(received(mail_app, smtp_server, "alert_renewal")) == 1


# --- 11. Erasure ------------------------------------------------------------------------


def erase_by_withdrawing(app, mail) -> None:
    assert press(app, path_in(mail, "withdraw")).status_code == 200


def erase_on_the_command_line(app, mail) -> None:
    cli(app, "leads", "erase", EMAIL)


def erase_by_the_retention_purge(app, mail) -> None:
    old = utcnow() - timedelta(days=app.config["RETENTION_DAYS"] + 1)
    change(app, Lead, Lead.email == EMAIL, created_at=old)
    cli(app, "leads", "purge", "--yes")


@pytest.mark.parametrize(
    "erase", [erase_by_withdrawing, erase_on_the_command_line, erase_by_the_retention_purge]
)
def test_erasure_removes_every_alert_record_of_the_lead_and_its_links_404(
    mail_app, smtp_server, erase
):
    add_trial(mail_app, "NCT00000001", sites=[("GB", "RECRUITING")])  # shown
    lead_id = confirmed(mail_app, smtp_server)
    other_id = confirmed(mail_app, smtp_server, email="other@example.com", name="Other Family")
    add_trial(mail_app, "NCT00000002", sites=[("GB", "RECRUITING")])  # mailed
    send_alerts(mail_app)
    [mail] = received(mail_app, smtp_server, "trial_alert", lead_id)
    [confirmation] = received(mail_app, smtp_server, "alert_confirmation", lead_id)
    assert count(mail_app, LeadTrial, LeadTrial.lead_id == lead_id) == 2

    erase(mail_app, mail)
    assert count(mail_app, TrialAlert, TrialAlert.lead_id == lead_id) == 0
    assert count(mail_app, LeadTrial, LeadTrial.lead_id == lead_id) == 0
    assert count(mail_app, TrialAlert, TrialAlert.lead_id == other_id) == 1
    assert count(mail_app, LeadTrial, LeadTrial.lead_id == other_id) == 2
    browser = mail_app.test_client()
    for path in (path_in(mail, "alerts/manage"), path_in(mail, "alerts/stop")):
        assert browser.get(path).status_code == 404, path
    stop = browser.post(
        path_in(mail, "alerts/stop"),
        data=ONE_CLICK,
        content_type="application/x-www-form-urlencoded",
    )
    assert stop.status_code == 404
    assert browser.get(path_in(confirmation, "alerts/confirm")).status_code == 404


# --- 12. Privacy of the mail headers -------------------------------------------------------


def test_no_alert_mail_header_names_the_diagnosis_the_age_or_the_family(mail_app, smtp_server):
    family = {"name": "Robin Quillfeather", "email": "family@example.org"}
    add_trial(mail_app, "NCT00000001", conditions=("Wilms Tumor",), sites=[("GB", "RECRUITING")])
    lead_id = confirmed(mail_app, smtp_server, diagnosis="wilms", patient_age="11", **family)
    add_trial(mail_app, "NCT00000002", conditions=("Wilms Tumor",), sites=[("GB", "RECRUITING")])
    send_alerts(mail_app)
    alerts_end_in(mail_app, lead_id, timedelta(days=6))
    send_alerts(mail_app)

    messages = [
        message
        for kind in ("alert_confirmation", "trial_alert", "alert_renewal")
        for message in received(mail_app, smtp_server, kind, lead_id)
    ]
    assert len(messages) == 3
    forbidden = [
        "wilms",
        "nephroblastoma",
        str(DIAGNOSES["wilms"]).lower(),
        "robin",
        "quillfeather",
    ]
    age = re.compile(r"\b11\b|\byears?\b|\baged?\b", re.IGNORECASE)
    for message in messages:
        for name, value in message.items():
            assert not [word for word in forbidden if word in str(value).lower()], (name, value)
            if name != "Date":  # the moment it was sent: its clock may read 11
                assert not age.search(str(value)), (name, value)


# --- 13. Staff ---------------------------------------------------------------------------


def new_matches_listed(staff) -> list[int]:
    page = staff.get("/staff/").get_data(as_text=True)
    section = page[page.index('id="new-matches"') :]
    section = section[: section.index("</section>")]
    return [int(found) for found in re.findall(r"/staff/leads/(\d+)#alerts", section)]


def alert_rows(staff, lead_id: int) -> dict[str, tuple[str, str]]:
    """The lead page's table of trials the alerts found: NCT id -> (found, mailed)."""
    page = staff.get(f"/staff/leads/{lead_id}").get_data(as_text=True)
    section = page[page.index('id="alerts"') :]
    section = section[: section.index("</section>")]
    cells = re.findall(
        r"(NCT\d+)</a>.*?</th>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>", section, re.DOTALL
    )
    return {nct_id: (found, mailed) for nct_id, found, mailed in cells}


def lead_page_alerts_state(staff, lead_id: int) -> str:
    page = staff.get(f"/staff/leads/{lead_id}").get_data(as_text=True)
    return re.search(r"<dt>Alerts</dt><dd>([^<(]*)", page).group(1).strip()


STAFF_TIME = re.compile(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2}")


def test_staff_see_new_matches_of_open_leads_until_they_review_them(mail_app, smtp_server):
    staff = staff_client(mail_app)
    opted = confirmed(mail_app, smtp_server, email="opted@example.com", name="Opted In")
    submit_application(mail_app, email="contacted@example.com", name="Con Tacted")
    submit_application(mail_app, email="referred@example.com", name="Re Ferred")
    submit_application(mail_app, email="enrolled@example.com", name="En Rolled")
    contacted, referred, enrolled = (
        lead_id_of(mail_app, f"{name}@example.com")
        for name in ("contacted", "referred", "enrolled")
    )
    set_status(staff, contacted, "contacted")
    set_status(staff, referred, "referred")
    set_status(staff, enrolled, "enrolled")
    assert new_matches_listed(staff) == []

    add_trial(mail_app, "NCT00000001", sites=[("GB", "RECRUITING")])
    send_alerts(mail_app)
    assert sorted(new_matches_listed(staff)) == sorted([opted, contacted, referred])
    assert count(mail_app, LeadTrial, LeadTrial.lead_id == enrolled) == 0  # not searched

    assert lead_page_alerts_state(staff, opted) == "On"  # opening the page reviews it
    assert sorted(new_matches_listed(staff)) == sorted([contacted, referred])
    token = csrf_token(staff, "/staff/")
    reviewed = staff.post(f"/staff/leads/{contacted}/reviewed", data={"csrf_token": token})
    assert reviewed.status_code == 303
    assert new_matches_listed(staff) == [referred]

    [(found, mailed)] = alert_rows(staff, opted).values()
    assert STAFF_TIME.fullmatch(found) and STAFF_TIME.fullmatch(mailed)
    assert list(alert_rows(staff, contacted)) == ["NCT00000001"]
    assert alert_rows(staff, contacted)["NCT00000001"][1] == "No"
    assert lead_page_alerts_state(staff, contacted) == "Not asked for"

    add_trial(mail_app, "NCT00000002", sites=[("GB", "RECRUITING")])
    send_alerts(mail_app)
    assert sorted(new_matches_listed(staff)) == sorted([opted, contacted, referred])
    assert alert_rows(staff, opted)["NCT00000002"][1] == "No"  # within the interval: found only


# --- 14. leads.csv ------------------------------------------------------------------------


def test_leads_csv_tells_the_state_of_each_familys_alerts(mail_app, smtp_server, monkeypatch):
    submit_application(mail_app, email="none@example.com")
    opt_in(mail_app, email="pending@example.com")
    opt_in(mail_app, email="lapsed@example.com")
    active = confirmed(mail_app, smtp_server, email="active@example.com")
    paused = confirmed(mail_app, smtp_server, email="paused@example.com")
    ended = confirmed(mail_app, smtp_server, email="ended@example.com")
    stopped = confirmed(mail_app, smtp_server, email="stopped@example.com")
    manage(mail_app, manage_path(mail_app, smtp_server, paused), "pause")
    manage(mail_app, manage_path(mail_app, smtp_server, stopped), "stop")
    alerts_end_in(mail_app, ended, -timedelta(days=1))
    change(
        mail_app,
        TrialAlert,
        TrialAlert.lead_id == lead_id_of(mail_app, "lapsed@example.com"),
        confirm_by=utcnow() - timedelta(days=1),
    )
    assert alert_of(mail_app, active).state == "active"

    response = staff_client(mail_app).get("/staff/leads.csv")
    assert response.status_code == 200
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert list(table[0])[-1] == "trial_alerts"
    assert {row["email"]: row["trial_alerts"] for row in table} == {
        "none@example.com": "none",
        "pending@example.com": "pending",
        "lapsed@example.com": "expired",  # not confirmed within 7 days
        "active@example.com": "active",
        "paused@example.com": "paused",
        "ended@example.com": "expired",  # past its six months
        "stopped@example.com": "stopped",
    }


# --- 15. The run itself ------------------------------------------------------------------


def stored_state(app) -> dict:
    """Everything a run of `flask alerts send` may write."""
    with app.app_context():
        return {
            "outbox": list(db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))),
            "lead_trials": [
                (r.lead_id, r.nct_id, r.first_mailed_at, r.found_at)
                for r in db.session.scalars(select(LeadTrial).order_by(LeadTrial.id))
            ],
            "leads": list(
                db.session.execute(select(Lead.id, Lead.matches_found_at).order_by(Lead.id))
            ),
            "alerts": [
                (a.lead_id, a.state, a.last_mailed_at, a.renewal_sent_at, a.confirm_requested_at)
                for a in db.session.scalars(select(TrialAlert).order_by(TrialAlert.id))
            ],
            "runs": db.session.scalar(select(func.count(JobRun.id))),
        }


def test_a_dry_run_prints_counts_only_and_writes_nothing_a_real_run_is_on_the_runs_page(
    mail_app, smtp_server
):
    renewing = confirmed(
        mail_app, smtp_server, name="Robin Quillfeather", email="robin@example.org"
    )
    ending = confirmed(mail_app, smtp_server, name="Sam Lastone", email="sam@example.org")
    submit_application(mail_app, name="Kim Without", email="kim@example.org")
    alerts_end_in(mail_app, renewing, timedelta(days=6))
    alerts_end_in(mail_app, ending, -timedelta(days=1))
    add_trial(mail_app, "NCT00000042", title="Zephyr antibody study", sites=[("GB", "RECRUITING")])
    before = stored_state(mail_app)

    output = cli(mail_app, "alerts", "send", "--dry-run")
    assert output == (
        "Would queue (dry run): 1 alert mail and 1 renewal; 3 leads checked, "
        "3 new matches found, 1 alert expired.\n"
    )
    for secret in ("robin", "quillfeather", "sam", "kim", "example.org", "zephyr", "nct"):
        assert secret not in output.lower()
    assert stored_state(mail_app) == before

    assert send_alerts(mail_app) == (
        "Queued: 1 alert mail and 1 renewal; 3 leads checked, 3 new matches found, "
        "1 alert expired.\n"
    )
    staff = staff_client(mail_app)
    page = staff.get("/staff/runs").get_data(as_text=True)
    [row] = re.findall(r"<tr>\s*<th scope=\"row\">Trial alerts</th>.*?</tr>", page, re.DOTALL)
    assert "Ran without errors" in row
    assert (
        "3 leads checked, 1 alert mail queued, 3 new matches found, 1 renewal mailed, "
        "1 alert expired"
    ) in row
