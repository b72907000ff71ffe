"""The matches on the thanks page and the staff lead page, matching again, the staff
trials page and the matched_nct_ids column of leads.csv, through HTTP."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from microsite.extensions import db
from microsite.models import Lead, LeadMatch, Trial, TrialImport
from tests.helpers import add_lead, add_trial, rendered_hidden_fields, rows

SWEDISH_SITES = [
    ("SE", "RECRUITING", "Karolinska University Hospital", "Stockholm"),
    ("SE", "RECRUITING", "Sahlgrenska University Hospital", "Göteborg"),
    ("SE", "RECRUITING", "Skåne University Hospital", "Lund"),
    ("SE", "RECRUITING", "Uppsala University Hospital", "Uppsala"),
    ("NO", "RECRUITING", "Oslo University Hospital", "Oslo"),
    ("SE", "NOT_YET_RECRUITING", "Norrland University Hospital", "Umeå"),
]


def add_catalog(app) -> None:
    add_trial(
        app,
        "NCT99990001",
        conditions=["Neuroblastoma", "Ganglioneuroblastoma"],
        min_age=3,
        max_age=252,
        phases=["PHASE1", "PHASE2"],
        sites=SWEDISH_SITES,
    )
    add_trial(app, "NCT99990002", max_age=216, phases=["PHASE3"], sites=[("US", "RECRUITING")] * 4)
    add_trial(app, "NCT99990003", status="NOT_YET_RECRUITING", phases=[])
    add_trial(app, "NCT99990004", conditions=["Wilms Tumor"])  # another diagnosis
    add_trial(app, "NCT99990005", status="COMPLETED", sites=SWEDISH_SITES)


def apply(client, apply_form, **answers):
    answers = {"patient_age": "6", "diagnosis": "neuroblastoma", "country": "SE", **answers}
    response = client.post("/apply", data=apply_form(**answers))
    assert response.status_code == 303
    return response


def the_lead(app) -> Lead:
    [lead] = rows(app, Lead)
    return lead


def stored_ids(app, lead_id: int) -> list[str]:
    with app.app_context():
        rows = db.session.scalars(
            select(LeadMatch.nct_id).filter_by(lead_id=lead_id).order_by(LeadMatch.rank)
        )
        return list(rows)


def section(html: str, heading: str) -> str:
    """The <section> whose <h2> reads ``heading``."""
    match = re.search(
        rf"<section[^>]*>\s*<h2[^>]*>{re.escape(heading)}</h2>.*?</section>", html, re.S
    )
    assert match, f"no section headed {heading!r}"
    return match.group(0)


def items(html: str) -> list[str]:
    return re.findall(r'<li class="trial">(.*?)</li>\s*(?=<li class="trial">|</ol>)', html, re.S)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


# --- the thanks page ----------------------------------------------------------------------


def test_the_thanks_page_shows_the_matched_trials(app, client, apply_form):
    add_catalog(app)
    apply(client, apply_form)
    html = client.get("/apply/thanks").get_data(as_text=True)
    matches = section(html, "Trials that may fit")
    shown = items(matches)
    assert len(shown) == 3
    first, second, third = (text(item) for item in shown)
    assert first.startswith(
        "Study NCT99990001 Status Recruiting Phase Phase 1/Phase 2 Ages 3 months to 21 years"
    )
    assert (
        "Recruiting in Sweden: Karolinska University Hospital, Stockholm Sahlgrenska "
        "University Hospital, Göteborg Skåne University Hospital, Lund" in first
    )
    assert "Uppsala" not in first and "Oslo" not in first and "Umeå" not in first
    assert 'href="https://clinicaltrials.gov/study/NCT99990001"' in shown[0]
    assert "Status Recruiting Phase Phase 3 Ages Up to 18 years" in second
    assert "No recruiting site in Sweden is listed yet." in second
    assert "Status Not yet recruiting Phase Not given Ages Any age" in third
    assert "NCT99990004" not in html and "NCT99990005" not in html
    assert "Only each trial’s own team can decide whether the patient can take part" in matches
    assert "This list is not medical advice" in matches
    assert "will search further" not in matches


def test_with_no_match_the_navigator_searches_further(app, client, apply_form):
    add_catalog(app)
    apply(client, apply_form, diagnosis="hepatoblastoma")
    matches = section(client.get("/apply/thanks").get_data(as_text=True), "Trials that may fit")
    assert "Your navigator will search further" in matches
    assert "<ol" not in matches and "clinicaltrials.gov" not in matches


def test_another_diagnosis_is_searched_by_hand(app, client, apply_form):
    add_catalog(app)
    apply(client, apply_form, diagnosis="other", diagnosis_other="Nasopharyngeal carcinoma")
    matches = section(client.get("/apply/thanks").get_data(as_text=True), "Trials that may fit")
    assert "Your navigator will search further" in matches


def test_the_thanks_page_shows_what_was_stored_not_todays_catalog(app, client, apply_form):
    add_catalog(app)
    apply(client, apply_form)
    add_trial(app, "NCT99990009", sites=[("SE", "RECRUITING")] * 9)  # would come first now
    with app.app_context():
        db.session.execute(Trial.__table__.update().values(brief_title="Renamed later"))
        db.session.commit()
    html = client.get("/apply/thanks").get_data(as_text=True)
    assert "NCT99990009" not in html and "Renamed later" not in html
    assert "Study NCT99990001" in html


def test_a_visitor_without_an_application_sees_no_matches(app, client):
    add_catalog(app)
    html = client.get("/apply/thanks").get_data(as_text=True)
    assert "Trials that may fit" not in html and "NCT9999" not in html


def test_a_trial_title_is_escaped(app, client, apply_form):
    add_trial(app, "NCT99990001")
    with app.app_context():
        db.session.execute(
            Trial.__table__.update().values(brief_title="<script>alert(1)</script> & more")
        )
        db.session.commit()
    apply(client, apply_form)
    html = client.get("/apply/thanks").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html


def site_urls(html: str) -> list[str]:
    """Every URL of the page but the links to ClinicalTrials.gov."""
    urls = re.findall(r'(?:href|src|action|content)="([^"]*)"', html)
    return [u for u in urls if not u.startswith("https://clinicaltrials.gov/study/")]


def test_no_health_data_in_any_url(app, client, apply_form):
    add_catalog(app)
    response = apply(client, apply_form)
    assert response.headers["Location"] == "/apply/thanks"
    html = client.get("/apply/thanks").get_data(as_text=True)
    assert "NCT99990001" in html  # the page does show the trials...
    trial_pages = [url for url in site_urls(html) if url.startswith("/trials/")]
    # ...each links to its public page, whose NCT id says nothing about the visitor...
    assert trial_pages == [f"/trials/NCT9999000{n}" for n in (1, 2, 3)]
    for url in site_urls(html):  # ...and no other URL of the site carries health data
        for health in ("neuroblastoma", "diagnosis", "age="):
            assert health not in url, url
        assert url in trial_pages or "NCT" not in url, url
    links = re.findall(r'href="(https://clinicaltrials\.gov/[^"]*)"', html)
    assert links == [f"https://clinicaltrials.gov/study/NCT9999000{n}" for n in (1, 2, 3)]


# --- the staff lead page and matching again ------------------------------------------------


def test_staff_see_the_matches_the_family_saw(app, client, apply_form, staff_client):
    add_catalog(app)
    apply(client, apply_form)
    lead = the_lead(app)
    family = items(
        section(client.get("/apply/thanks").get_data(as_text=True), "Trials that may fit")
    )
    page = staff_client.get(f"/staff/leads/{lead.id}")
    assert page.status_code == 200
    staff_html = page.get_data(as_text=True)
    # Staff also see each site's contact from today's catalog: that aside, the same list.
    without_contacts = re.sub(r'<br><span class="trial__contact">.*?</span>', "", staff_html)
    staff = items(section(without_contacts, "Trials shown to the family"))
    assert [text(i) for i in staff] == [text(i) for i in family]
    assert staff_html.count('class="trial__contact"') == 3  # the three Swedish sites shown
    assert "Match again" in page.get_data(as_text=True)


def test_a_lead_without_matches_says_so_to_staff(app, client, apply_form, staff_client):
    apply(client, apply_form)
    html = staff_client.get(f"/staff/leads/{the_lead(app).id}").get_data(as_text=True)
    assert "No trials were matched when the application was stored." in html
    assert "Your navigator will search further" in section(html, "Trials shown to the family")


def match_again(staff_client, lead_id: int, with_token: bool = True):
    page = staff_client.get(f"/staff/leads/{lead_id}").get_data(as_text=True)
    fields = rendered_hidden_fields(page) if with_token else {}
    return staff_client.post(f"/staff/leads/{lead_id}/matches", data=fields)


def test_matching_again_replaces_the_stored_matches(app, client, apply_form, staff_client):
    add_catalog(app)
    apply(client, apply_form)
    lead = the_lead(app)
    assert stored_ids(app, lead.id) == ["NCT99990001", "NCT99990002", "NCT99990003"]
    add_trial(app, "NCT99990009", sites=[("SE", "RECRUITING")] * 9)
    with app.app_context():
        db.session.execute(
            Trial.__table__.update()
            .where(Trial.nct_id == "NCT99990002")
            .values(overall_status="COMPLETED")
        )
        db.session.commit()
    response = match_again(staff_client, lead.id)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/leads/{lead.id}#matches"
    assert stored_ids(app, lead.id) == ["NCT99990009", "NCT99990001", "NCT99990003"]
    html = staff_client.get(f"/staff/leads/{lead.id}").get_data(as_text=True)
    assert "NCT99990009" in html and "NCT99990002" not in html


def test_matching_again_needs_the_csrf_token(app, client, apply_form, staff_client):
    add_catalog(app)
    apply(client, apply_form)
    lead = the_lead(app)
    add_trial(app, "NCT99990009", sites=[("SE", "RECRUITING")] * 9)
    response = match_again(staff_client, lead.id, with_token=False)
    assert response.status_code == 400
    assert stored_ids(app, lead.id) == ["NCT99990001", "NCT99990002", "NCT99990003"]


def test_matching_again_for_an_unknown_lead_is_404(staff_client, app, client, apply_form):
    apply(client, apply_form)
    fields = rendered_hidden_fields(
        staff_client.get(f"/staff/leads/{the_lead(app).id}").get_data(as_text=True)
    )
    assert staff_client.post("/staff/leads/999/matches", data=fields).status_code == 404


def test_matching_again_is_for_staff_only(app, client, apply_form):
    add_catalog(app)
    apply(client, apply_form)
    lead = the_lead(app)
    before = stored_ids(app, lead.id)
    token = rendered_hidden_fields(client.get("/apply").get_data(as_text=True))["csrf_token"]
    response = client.post(f"/staff/leads/{lead.id}/matches", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/staff/login")
    assert stored_ids(app, lead.id) == before


# --- the staff trials page ------------------------------------------------------------------


def test_the_trials_page_shows_size_freshness_and_statuses(app, staff_client):
    add_catalog(app)
    add_trial(app, "NCT99990006", status="COMPLETED", updated=date(2026, 11, 2))
    finished = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    with app.app_context():
        db.session.add_all(
            [
                TrialImport(
                    source="import",
                    started_at=finished - timedelta(days=3),
                    finished_at=finished - timedelta(days=3),
                    new=5,
                    updated=0,
                    skipped=0,
                ),
                TrialImport(
                    source="sync",
                    started_at=finished - timedelta(minutes=4),
                    finished_at=finished,
                    new=2,
                    updated=40,
                    skipped=1,
                ),
                TrialImport(source="sync", started_at=finished + timedelta(hours=1)),  # running
            ]
        )
        db.session.commit()
    response = staff_client.get("/staff/trials")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert (
        "Last sync finished <strong>20 Nov 2026, 14:05</strong> (UTC): 2 new, 40 updated, "
        "0 unchanged, 1 skipped." in html
    )
    stats = text(section(html, "How fresh it is"))
    assert "Trials 6 Open to matching 4 Latest trial update 2026-11-02" in stats
    statuses = text(section(html, "Trials per status"))
    assert "Status Trials Recruiting 3 Completed 2 Not yet recruiting 1" in statuses
    runs = text(section(html, "Latest imports and syncs"))
    assert runs.index("Not finished") < runs.index("20 Nov 2026, 14:05") < runs.index("17 Nov 2026")


def test_an_empty_catalog_says_nothing_was_loaded(staff_client):
    html = staff_client.get("/staff/trials").get_data(as_text=True)
    assert "No import or sync has finished yet." in html
    assert "The catalog is empty." in html


def test_the_staff_nav_links_to_the_trials_page(staff_client):
    html = staff_client.get("/staff/").get_data(as_text=True)
    assert '<a href="/staff/trials">Trials</a>' in html


def test_the_trials_page_needs_a_sign_in(client):
    response = client.get("/staff/trials")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login?next=/staff/trials"


# --- leads.csv --------------------------------------------------------------------------------


def csv_rows(staff_client) -> list[list[str]]:
    response = staff_client.get("/staff/leads.csv")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def test_leads_csv_ends_with_the_matched_nct_ids_in_rank_order(
    app, client, apply_form, staff_client
):
    add_catalog(app)
    apply(client, apply_form)
    first = the_lead(app)
    same = ("patient_age", "diagnosis", "country", "name", "email")
    second, _third = (add_lead(app, **{c: getattr(first, c) for c in same}) for _ in range(2))
    with app.app_context():
        # Stored out of rank order: the column follows the rank, not the row order.
        for rank, nct_id in [(3, "NCT99990103"), (1, "NCT99990101"), (2, "NCT99990102")]:
            db.session.add(LeadMatch(lead_id=second, rank=rank, nct_id=nct_id, shown={}))
        db.session.commit()
    header, *records = csv_rows(staff_client)
    column = header.index("matched_nct_ids")
    assert header[column - 1] == "utm_term"  # appended after the original columns
    assert [record[column] for record in records] == [
        "NCT99990001 NCT99990002 NCT99990003",
        "NCT99990101 NCT99990102 NCT99990103",
        "",
    ]


def test_the_csv_column_follows_matching_again(app, client, apply_form, staff_client):
    add_catalog(app)
    apply(client, apply_form)
    lead = the_lead(app)
    add_trial(app, "NCT99990009", sites=[("SE", "RECRUITING")] * 9)
    match_again(staff_client, lead.id)
    [header, row] = csv_rows(staff_client)
    assert row[header.index("matched_nct_ids")] == "NCT99990009 NCT99990001 NCT99990002 NCT99990003"
