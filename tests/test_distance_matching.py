"""Trials near the family: postal codes located offline, distances to the nearest
recruiting site, the travel distance, and what the family and the navigator see."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select, text

from microsite.extensions import db
from microsite.models import Lead, LeadMatch, Trial, TrialSite
from microsite.trials import matching
from tests.helpers import add_located_trial, add_postal_codes, rows

# Real children's hospitals: Chicago's where it stands, the others at their city's
# coordinates as ClinicalTrials.gov gives them.
CHICAGO = ("Lurie Children's Hospital", "Chicago", "Illinois", "US", 41.89601, -87.62147)
HOUSTON = ("Texas Children's Hospital", "Houston", "Texas", "US", 29.76328, -95.36327)
SEATTLE = ("Seattle Children's Hospital", "Seattle", "Washington", "US", 47.60621, -122.33207)
MEMPHIS = (
    "St. Jude Children's Research Hospital",
    "Memphis",
    "Tennessee",
    "US",
    35.14953,
    -90.04898,
)
TORONTO = ("The Hospital for Sick Children", "Toronto", "Ontario", "CA", 43.70011, -79.4163)
SAN_JUAN = ("Hospital Pediátrico Universitario", "San Juan", "", "PR", 18.46633, -66.10572)
NOWHERE = ("Hospital Without Coordinates", "Springfield", "Illinois", "US", None, None)


def apply(client, apply_form, **answers) -> None:
    answers = {
        "patient_age": "6",
        "diagnosis": "neuroblastoma",
        "country": "US",
        "postal_code": "60637",
        **answers,
    }
    response = client.post("/apply", data=apply_form(**answers))
    assert response.status_code == 303, response.get_data(as_text=True)


def shown(app) -> list[dict]:
    with app.app_context():
        return [m.shown for m in db.session.scalars(select(LeadMatch).order_by(LeadMatch.rank))]


def the_lead(app) -> Lead:
    [lead] = rows(app, Lead)
    return lead


@pytest.fixture
def us_catalog(app):
    add_postal_codes(app, "60637", "77030", "98105", "38105", "00901")
    add_located_trial(app, "NCT00000001", SEATTLE)
    add_located_trial(app, "NCT00000002", HOUSTON, SEATTLE)
    add_located_trial(app, "NCT00000003", MEMPHIS)
    add_located_trial(app, "NCT00000004", CHICAGO, HOUSTON)
    return app


def test_great_circle_distances_between_real_cities():
    chicago, houston, seattle = CHICAGO[4:], HOUSTON[4:], SEATTLE[4:]
    assert matching.distance_km(*chicago, *houston) == pytest.approx(1515, abs=10)
    assert matching.distance_km(*chicago, *seattle) == pytest.approx(2797, abs=10)
    assert matching.distance_km(*chicago, *chicago) == 0


def test_a_family_in_60637_gets_the_chicago_site_first_about_10_to_20_km_away(
    us_catalog, client, apply_form
):
    apply(client, apply_form, travel_distance="160")
    first, *others = shown(us_catalog)
    assert first["nct_id"] == "NCT00000004"
    assert 10 <= first["nearest_km"] <= 20
    assert first["within_travel"] is True
    assert [site["city"] for site in first["sites"]] == ["Chicago", "Houston"]  # nearest first
    assert first["recruiting_sites"] == 2
    # Then by distance: Memphis (about 770 km), Houston (about 1,500), Seattle (2,800).
    assert [m["nct_id"] for m in others] == ["NCT00000003", "NCT00000002", "NCT00000001"]
    assert [m["within_travel"] for m in others] == [False, False, False]
    assert [round(m["nearest_km"], -2) for m in others] == [800, 1500, 2800]
    assert the_lead(us_catalog).nearest_site_km == round(first["nearest_km"])
    assert the_lead(us_catalog).travel_distance == "160"


def test_the_thanks_page_puts_trials_beyond_the_travel_distance_under_their_own_heading(
    us_catalog, client, apply_form
):
    apply(client, apply_form, travel_distance="80")
    page = client.get("/apply/thanks").get_data(as_text=True)
    plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Within 50 miles (80 km)" in plain
    assert "Farther away" in plain
    assert plain.index("Study NCT00000004") < plain.index("Farther away")
    assert plain.index("Farther away") < plain.index("Study NCT00000003")
    # Miles first for a family in the US; the nearest site named with its distance.
    assert re.search(
        r"2 recruiting sites · nearest about 8 mi \(13 km\): Lurie Children's Hospital, "
        r"Chicago, Illinois",
        plain.replace("&#39;", "'"),
    ), plain
    assert 'href="/trials/NCT00000004"' in page


def test_any_distance_and_no_answer_list_every_trial_by_distance_without_a_heading(
    us_catalog, client, apply_form
):
    apply(client, apply_form, travel_distance="any")
    assert [m["within_travel"] for m in shown(us_catalog)] == [True] * 4
    page = client.get("/apply/thanks").get_data(as_text=True)
    assert "Farther away" not in page
    assert "Sorted by distance from postal code 60637" in page


def test_a_zip_plus_4_code_is_located(us_catalog, client, apply_form):
    apply(client, apply_form, postal_code="60637-1234")
    assert shown(us_catalog)[0]["ranked_by"] == "distance"


def test_sites_without_coordinates_and_trials_not_yet_recruiting_come_after_distances(
    us_catalog, client, apply_form
):
    add_located_trial(us_catalog, "NCT00000005", NOWHERE)
    add_located_trial(us_catalog, "NCT00000006", status="NOT_YET_RECRUITING")
    add_located_trial(us_catalog, "NCT00000007", CHICAGO, site_status="NOT_YET_RECRUITING")
    apply(client, apply_form)
    matches = shown(us_catalog)
    assert [m["nct_id"] for m in matches] == [
        "NCT00000004",
        "NCT00000003",
        "NCT00000002",
        "NCT00000001",
        "NCT00000005",  # a recruiting site, but not placed
    ]
    assert matches[-1]["nearest_km"] is None and matches[-1]["within_travel"] is None
    page = client.get("/apply/thanks").get_data(as_text=True)
    assert "Sites not yet placed, or not yet recruiting" in page
    assert "1 recruiting site, not yet placed on the map" in page


def test_a_site_across_the_border_counts_by_distance(app, client, apply_form):
    add_postal_codes(app, "48226")  # Detroit: Toronto is nearer than Houston
    add_located_trial(app, "NCT00000010", HOUSTON)
    add_located_trial(app, "NCT00000011", TORONTO)
    apply(client, apply_form, postal_code="48226")
    assert [m["nct_id"] for m in shown(app)] == ["NCT00000011", "NCT00000010"]


def test_the_box_widens_until_enough_trials_are_found(app, client, apply_form):
    add_postal_codes(app, "98105")
    for number in range(7):  # all far from Seattle
        add_located_trial(app, f"NCT0000002{number}", HOUSTON if number % 2 else MEMPHIS)
    add_located_trial(app, "NCT00000030", SEATTLE)
    apply(client, apply_form, postal_code="98105")
    matches = shown(app)
    assert len(matches) == matching.MAX_MATCHES
    assert matches[0]["nct_id"] == "NCT00000030"
    assert [m["sites"][0]["city"] for m in matches[1:]] == ["Memphis"] * 4  # nearer than Houston


@pytest.mark.parametrize(
    ("postal_code", "says"),
    [
        ("99999", "We could not place postal code 99999"),
        ("", "with a postal code we could sort them by distance"),
    ],
    ids=["unknown", "missing"],
)
def test_an_unknown_or_missing_postal_code_ranks_by_country_and_says_so(
    us_catalog, client, apply_form, postal_code, says
):
    add_located_trial(us_catalog, "NCT00000012", TORONTO)
    apply(client, apply_form, postal_code=postal_code)
    matches = shown(us_catalog)
    assert {m["ranked_by"] for m in matches} == {"country"}
    assert matches[-1]["nct_id"] == "NCT00000012"  # the only trial without a US site
    assert all(m["nearest_km"] is None for m in matches)
    assert the_lead(us_catalog).nearest_site_km is None
    page = client.get("/apply/thanks").get_data(as_text=True)
    assert says in page


def test_a_puerto_rico_zip_code_is_located_under_pr(us_catalog, client, apply_form):
    add_located_trial(us_catalog, "NCT00000013", SAN_JUAN)
    apply(client, apply_form, country="PR", postal_code="00901", travel_distance="80")
    first = shown(us_catalog)[0]
    assert (first["nct_id"], first["ranked_by"], first["within_travel"]) == (
        "NCT00000013",
        "distance",
        True,
    )
    assert first["nearest_km"] < 5


def test_km_first_outside_the_miles_countries():
    assert matching.distance_text(19.4, "US") == "about 12 mi (19 km)"
    assert matching.distance_text(19.4, "GB") == "about 12 mi (19 km)"
    assert matching.distance_text(19.4, "FR") == "about 19 km (12 mi)"
    assert matching.distance_text(0.2, "DE") == "about 1 km (1 mi)"


@pytest.mark.parametrize(
    ("latitude", "longitude", "radius", "ranges"),
    [
        (41.8, -87.6, 80, 1),
        (-17.7, 179.5, 400, 2),  # Fiji: the box crosses 180°
        (64.8, -179.9, 800, 2),
        (89.0, 10.0, 400, 1),  # near the pole: every longitude
    ],
)
def test_the_bounding_box_holds_every_point_within_the_radius(latitude, longitude, radius, ranges):
    south, north, longitudes = matching.bounding_box(latitude, longitude, radius)
    assert len(longitudes) == ranges
    for bearing in range(0, 360, 15):  # points on the circle, by the destination formula
        import math

        angle, theta = radius / matching.EARTH_RADIUS_KM, math.radians(bearing)
        phi1, lambda1 = math.radians(latitude), math.radians(longitude)
        phi2 = math.asin(
            math.sin(phi1) * math.cos(angle) + math.cos(phi1) * math.sin(angle) * math.cos(theta)
        )
        lambda2 = lambda1 + math.atan2(
            math.sin(theta) * math.sin(angle) * math.cos(phi1),
            math.cos(angle) - math.sin(phi1) * math.sin(phi2),
        )
        point_latitude = math.degrees(phi2)
        point_longitude = (math.degrees(lambda2) + 540) % 360 - 180
        assert south - 1e-9 <= point_latitude <= north + 1e-9
        assert any(west - 1e-9 <= point_longitude <= east + 1e-9 for west, east in longitudes)


def test_the_travel_distance_is_optional_and_must_be_a_listed_choice(app, client, apply_form):
    response = client.post("/apply", data=apply_form(travel_distance="1000"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Choose one of the listed distances, or leave it unanswered." in page
    assert 'value="Alex Example"' in page  # what was typed is kept
    apply(client, apply_form)  # not answered: stored as no answer
    assert the_lead(app).travel_distance is None


def test_leads_csv_appends_travel_distance_and_nearest_site(
    us_catalog, client, apply_form, staff_client
):
    apply(client, apply_form, travel_distance="400")
    response = staff_client.get("/staff/leads.csv")
    header, row = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    start = header.index("travel_distance_km")
    assert header[start - 1 : start + 2] == [
        "matched_nct_ids",
        "travel_distance_km",
        "nearest_site_km",
    ]
    nearest = shown(us_catalog)[0]["nearest_km"]
    assert row[start : start + 2] == ["400", str(int(nearest + 0.5))]


def test_the_staff_lead_page_shows_distances_and_todays_contacts(
    us_catalog, client, apply_form, staff_client
):
    apply(client, apply_form, travel_distance="160")
    lead = the_lead(us_catalog)
    with us_catalog.app_context():
        site = db.session.scalar(select(TrialSite).filter_by(city="Chicago"))
        site.contact_name = "New Chicago Desk"
        db.session.commit()
    page = staff_client.get(f"/staff/leads/{lead.id}").get_data(as_text=True)
    assert "Farther away" in page
    assert (
        "Contact: New Chicago Desk · +1 555 0100 <strong>(changed since the match)</strong>" in page
    )
    assert "Contact: Desk of Houston · +1 555 0100</span>" in page


@pytest.fixture
def plan_catalog(app):
    """Enough recruiting sites that a planner prefers an index when one fits."""
    add_postal_codes(app, "60637")
    with app.app_context():
        for number in range(300):
            trial = Trial(
                nct_id=f"NCT1{number:07d}",
                brief_title="Study",
                overall_status="RECRUITING",
                diagnoses="|neuroblastoma|",
            )
            for offset in range(5):
                trial.sites.append(
                    TrialSite(
                        status="RECRUITING" if offset else "COMPLETED",
                        latitude=25 + (number * 7 + offset) % 24,
                        longitude=-124 + (number * 13 + offset * 3) % 57,
                    )
                )
            db.session.add(trial)
        db.session.commit()
    return app


def test_the_query_plan_finds_sites_through_the_position_index(plan_catalog):
    app = plan_catalog
    with app.app_context():
        box = matching.bounding_box(41.78, -87.60, 160)
        statement = matching.sites_in_box_statement(box).params(
            matching.fit_parameters("neuroblastoma", 6) | matching.box_parameters(box)
        )
        compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        connection = db.session.connection()
        if db.engine.dialect.name == "sqlite":
            plan = connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
            details = " ".join(str(row[-1]) for row in plan)
        else:
            connection.execute(text("ANALYZE trial"))
            connection.execute(text("ANALYZE trial_site"))
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            plan = connection.execute(text(f"EXPLAIN {compiled}")).all()
            details = " ".join(row[0] for row in plan)
        assert "ix_trial_site_position" in details, details
