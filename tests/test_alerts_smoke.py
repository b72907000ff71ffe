"""A first pass through trial alerts: opt in, confirm, send, stop."""

import re

from microsite.extensions import db
from microsite.models import LeadTrial, OutboxMessage, TrialAlert

from helpers import add_trial, count, rows, submit_application


def test_opt_in_confirm_send_stop(app):
    add_trial(app, "NCT00000001", sites=[("GB", "RECRUITING")])
    submit_application(app, trial_alerts="y", country="GB", diagnosis="neuroblastoma", patient_age="7")
    [alert] = rows(app, TrialAlert)
    assert alert.state == "pending"
    [confirmation] = rows(app, OutboxMessage, OutboxMessage.kind == "alert_confirmation")
    url = re.search(r"http://\S+/alerts/confirm/\S+", confirmation.body_text).group(0)
    path = url.split("localhost", 1)[-1].split(":5000", 1)[-1]
    path = "/" + path.split("/", 3)[-1] if not path.startswith("/") else path
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    from helpers import rendered_hidden_fields
    done = client.post(path, data=rendered_hidden_fields(page.get_data(as_text=True)))
    assert done.status_code == 200, done.get_data(as_text=True)
    [alert] = rows(app, TrialAlert)
    assert alert.state == "active"
    add_trial(app, "NCT00000002", sites=[("GB", "RECRUITING")])
    result = app.test_cli_runner().invoke(args=["alerts", "send"])
    assert result.exit_code == 0, result.output
    print(result.output)
    [mailed] = rows(app, OutboxMessage, OutboxMessage.kind == "trial_alert")
    assert "NCT00000002" in mailed.body_text
    assert "NCT00000001" not in mailed.body_text
    print(mailed.subject, mailed.headers)
    print(mailed.body_text)
    result = app.test_cli_runner().invoke(args=["alerts", "send"])
    assert count(app, OutboxMessage, OutboxMessage.kind == "trial_alert") == 1
    stop = re.search(r"/alerts/stop/(\S+)", mailed.body_text).group(1)
    assert client.get("/alerts/stop/" + stop).status_code == 200
    assert client.post("/alerts/stop/" + stop).status_code == 200
    [alert] = rows(app, TrialAlert)
    assert alert.state == "stopped"
    manage = client.get("/alerts/manage/" + stop)
    assert manage.status_code == 200
    csv = app.test_cli_runner().invoke(args=["leads", "export"])
    assert csv.output.splitlines()[0].endswith("trial_alerts")
    assert csv.output.splitlines()[1].endswith("stopped")


def test_staff_side(app, staff_client):
    from microsite.models import Lead
    add_trial(app, "NCT00000001", sites=[("GB", "RECRUITING")])
    submit_application(app, trial_alerts="y")
    submit_application(app, email="other@example.com")
    add_trial(app, "NCT00000002", sites=[("GB", "RECRUITING")])
    result = app.test_cli_runner().invoke(args=["alerts", "send", "--dry-run"])
    print(result.output)
    assert result.exit_code == 0, result.output
    result = app.test_cli_runner().invoke(args=["alerts", "send"])
    print(result.output)
    page = staff_client.get("/staff/").get_data(as_text=True)
    assert "New matches" in page
    assert page.count("Reviewed:") == 2, page[page.index("New matches"):][:3000]
    leads = rows(app, Lead)
    lead_page = staff_client.get(f"/staff/leads/{leads[0].id}").get_data(as_text=True)
    assert "NCT00000002" in lead_page
    assert "Waiting for the family" in lead_page
    page = staff_client.get("/staff/").get_data(as_text=True)
    assert page.count("Reviewed:") == 1
    print(staff_client.get("/staff/runs").get_data(as_text=True).split("Trial alerts")[1][:600])
