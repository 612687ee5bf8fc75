""""Wer kooperiert mit wem?" per region: which networks and agreements count
for a region (inside, containing, not beside it; active networks; agreements
in negotiation, active or suspended), the matrix organisation × network /
agreement with roles and partner counts, the SVG picture with its text
alternative and its cap, outcome goals with their attainment, need reports,
who may see what, and a query count that does not grow with the
organisations."""

import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cooperation.region_views import MAX_GRAPH_ORGANIZATIONS
from tests.factories import (
    AgreementFactory,
    AgreementPartyFactory,
    GoalFactory,
    IndicatorFactory,
    IndicatorValueFactory,
    NeedReportFactory,
    NetworkFactory,
    NetworkMemberFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db


def url(code):
    return f"/kooperation/raeume/{code}/"


def client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(html) -> str:
    if not isinstance(html, str):
        html = html.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").strip()


def matrix(response) -> list[list[str]]:
    """The cooperation table as rows of cell texts (header row first)."""
    html = response.content.decode()
    table = re.search(r'<table class="table coop-matrix">(.*?)</table>', html, re.S)
    assert table, "no matrix table"
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S):
        rows.append([text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)])
    return rows


def graph_svg(response) -> str:
    match = re.search(r'<svg role="img".*?</svg>', response.content.decode(), re.S)
    assert match, "no picture"
    return match.group(0)


@pytest.fixture
def world(tree):
    """Region D1 (Nord): two networks and one agreement touching it, four
    organisations; organisation "Beta" is in both networks.

        Netz Nord (for D1, public)       Alpha coordinates, Beta member
        Netz West (for P11, inside D1)   Beta member, Gamma coordination role
        Vertrag Stadt (for CITY, above)  Delta lead, Alpha partner

    Not counted: a network for D2 (beside D1), an inactive network, a draft
    and a terminated agreement for D1."""
    orgs = {name: OrganizationFactory(name=name) for name in ("Alpha", "Beta", "Gamma", "Delta", "Epsilon")}
    nord = NetworkFactory(name="Netz Nord", regions=[tree["D1"]], coordinator=orgs["Alpha"], public=True)
    NetworkMemberFactory(network=nord, organization=orgs["Beta"])
    west = NetworkFactory(name="Netz West", regions=[tree["P11"]])
    NetworkMemberFactory(network=west, organization=orgs["Beta"])
    NetworkMemberFactory(network=west, organization=orgs["Gamma"], role="coordination")
    city = AgreementFactory(title="Vertrag Stadt", regions=[tree["CITY"]], status="active")
    AgreementPartyFactory(agreement=city, organization=orgs["Delta"], role="lead")
    AgreementPartyFactory(agreement=city, organization=orgs["Alpha"])
    # not counted
    south = NetworkFactory(name="Netz Süd", regions=[tree["D2"]], public=True)
    NetworkMemberFactory(network=south, organization=orgs["Epsilon"])
    old = NetworkFactory(name="Netz Alt", regions=[tree["D1"]], active=False, public=True)
    NetworkMemberFactory(network=old, organization=orgs["Epsilon"])
    for status in ("draft", "terminated"):
        other = AgreementFactory(title=f"Vertrag {status}", regions=[tree["D1"]], status=status, public=True)
        AgreementPartyFactory(agreement=other, organization=orgs["Epsilon"])
    return {"orgs": orgs, "nord": nord, "west": west, "city": city, "tree": tree}


class TestAccess:
    def test_anonymous_goes_to_the_login_page(self, world):
        response = Client().get(url("D1"))
        assert response.status_code == 302 and response["Location"].startswith("/anmelden/?next=")

    def test_unknown_region_is_404(self, world, planner):
        assert client_for(planner).get(url("NOPE")).status_code == 404

    def test_region_outside_the_scope_is_404(self, world, region_lead):
        client = client_for(region_lead)  # region lead of D1: sees D1, below it and the city above it
        assert client.get(url("P21")).status_code == 404
        assert client.get(url("D2")).status_code == 404
        assert client.get(url("P11")).status_code == 200
        assert client.get(url("CITY")).status_code == 200

    def test_provider_outsider_sees_only_public_networks_and_agreements(self, world, provider_editor_b):
        public = AgreementFactory(title="Öffentlicher Vertrag", regions=[world["tree"]["D1"]], status="active",
                                  public=True)
        AgreementPartyFactory(agreement=public, organization=world["orgs"]["Delta"])
        response = client_for(provider_editor_b).get(url("D1"))
        assert response.status_code == 200
        header = matrix(response)[0]
        assert header[0] == "Organisation"
        assert [h.split(" (")[0] for h in header[1:-2]] == ["Netz Nord", "Öffentlicher Vertrag"]
        page = text(response)
        assert "Netz West" not in page and "Vertrag Stadt" not in page and "Gamma" not in page

    def test_member_sees_its_private_network(self, world, provider_editor_b, org_b):
        NetworkMemberFactory(network=world["west"], organization=org_b)
        header = matrix(client_for(provider_editor_b).get(url("D1")))[0]
        assert [h.split(" (")[0] for h in header[1:-2]] == ["Netz Nord", "Netz West"]

    @pytest.mark.parametrize("persona", ["planner", "viewer", "region_lead"])
    def test_staff_see_everything(self, world, personas, persona):
        header = matrix(client_for(personas[persona]).get(url("D1")))[0]
        assert [h.split(" (")[0] for h in header[1:-2]] == ["Netz Nord", "Netz West", "Vertrag Stadt"]


class TestMatrix:
    def test_matrix_of_the_constructed_case(self, world, planner):
        rows = matrix(client_for(planner).get(url("D1")))
        assert rows == [
            ["Organisation", "Netz Nord (Netzwerk: Sozialraumteam)", "Netz West (Netzwerk: Sozialraumteam)",
             "Vertrag Stadt (Vereinbarung: Kooperationsvereinbarung)", "Beteiligungen", "Partner"],
            ["Alpha", "Koordination", "", "Partner", "2", "2"],  # partners Beta (Nord), Delta (Vertrag)
            ["Beta", "Mitglied", "Mitglied", "", "2", "2"],  # Alpha, Gamma
            ["Delta", "", "", "federführender Träger", "1", "1"],  # Alpha
            ["Gamma", "", "Koordination", "", "1", "1"],  # Beta
        ]

    def test_headers_scoped_and_linked(self, world, planner):
        html = client_for(planner).get(url("D1")).content.decode()
        table = re.search(r'<table class="table coop-matrix">.*?</table>', html, re.S).group(0)
        assert "<caption>" in table
        assert table.count('<th scope="col"') == 6 and table.count('<th scope="row"') == 4
        alpha = world["orgs"]["Alpha"]
        assert f'<a href="/organisationen/{alpha.uuid}/">Alpha</a>' in table

    def test_provider_gets_no_links_to_organisations_it_cannot_open(self, world, provider_editor_b):
        html = client_for(provider_editor_b).get(url("D1")).content.decode()
        assert "/organisationen/" not in re.search(r'<table class="table coop-matrix">.*?</table>', html, re.S).group(0)

    def test_suspended_and_negotiation_agreements_count_and_are_marked(self, world, planner):
        world["city"].status = "suspended"
        world["city"].save()
        header = matrix(client_for(planner).get(url("D1")))[0]
        assert "Vertrag Stadt (Vereinbarung: Kooperationsvereinbarung, ausgesetzt)" in header

    def test_a_planungsraum_inherits_what_its_district_and_city_have(self, world, planner):
        rows = matrix(client_for(planner).get(url("P12")))
        assert [h.split(" (")[0] for h in rows[0][1:-2]] == ["Netz Nord", "Vertrag Stadt"]  # not Netz West (P11)

    def test_the_other_district(self, world, planner):
        rows = matrix(client_for(planner).get(url("D2")))
        assert [h.split(" (")[0] for h in rows[0][1:-2]] == ["Netz Süd", "Vertrag Stadt"]
        assert [r[0] for r in rows[1:]] == ["Alpha", "Delta", "Epsilon"]

    def test_nothing_to_show(self, tree, planner):
        page = text(client_for(planner).get(url("D1")))
        assert "Keine Netzwerke oder Vereinbarungen für diesen Raum." in page
        assert 'role="img"' not in page


class TestGraph:
    def test_svg_is_an_image_with_a_text_alternative(self, world, planner):
        response = client_for(planner).get(url("D1"))
        svg = graph_svg(response)
        labelled = re.search(r'aria-labelledby="([^"]+)"', svg).group(1).split()
        html = response.content.decode()
        for ident in labelled:
            assert f'id="{ident}"' in html
        summary = text(re.search(r'<p id="coop-graph-summary">(.*?)</p>', html, re.S).group(1))
        assert summary.startswith("Verbindungsbild: links 4 Organisationen, rechts 2 Netzwerke und 1 Vereinbarung, "
                                  "dazwischen 6 Linien")
        assert "Die meisten Partner hat Alpha (2)." in summary
        assert "Die Tabelle „Wer kooperiert mit wem?“ oben enthält dieselben Angaben vollständig." in summary
        assert "<script" not in html and "http" not in svg.replace("http://www.w3.org", "")

    def test_svg_content(self, world, planner):
        svg = graph_svg(client_for(planner).get(url("D1")))
        assert svg.count("<line ") == 6
        assert svg.count('stroke-dasharray="8 5"') == 2  # the two parties of the agreement
        assert svg.count('stroke-width="4"') == 3  # Alpha and Gamma coordinate, Delta leads
        for name in ("Alpha", "Beta", "Gamma", "Delta", "Netz Nord", "Netz West", "Vertrag Stadt"):
            assert f">{name}</text>" in svg
        # numbers in SVG attributes are never localised (German would write 57,5)
        assert not re.search(r'="[-\d.]*,\d', svg)

    def test_picture_is_capped(self, world, planner, django_assert_max_num_queries):
        for i in range(MAX_GRAPH_ORGANIZATIONS + 5):
            NetworkMemberFactory(network=world["nord"], organization=OrganizationFactory(name=f"Verein {i:02d}"))
        response = client_for(planner).get(url("D1"))
        svg = graph_svg(response)
        assert svg.count('r="5"') == MAX_GRAPH_ORGANIZATIONS
        page = text(response)
        assert "9 weitere Organisationen sind nicht gezeichnet, damit das Bild lesbar bleibt." in page
        assert len(matrix(response)) == 1 + 4 + MAX_GRAPH_ORGANIZATIONS + 5  # the table keeps them all
        # the most involved are drawn
        assert ">Alpha</text>" in svg and ">Beta</text>" in svg


class TestGoalsAndNeeds:
    def test_goal_attainment_from_indicator_values(self, world, planner):
        tree = world["tree"]
        indicator = IndicatorFactory(key="betreuungsquote", name="Betreuungsquote", unit="%", decimals=1)
        for period, value in (("2021", "40"), ("2023", "45"), ("2022", "42")):
            IndicatorValueFactory(indicator=indicator, region=tree["P11"], period=period, value=value)
        GoalFactory(agreement=world["city"], title="Mehr Betreuung", indicator=indicator, region=tree["P11"],
                    target_value=50, target_date=datetime.date(2099, 12, 31))
        empty = IndicatorFactory(key="leer", name="Ohne Werte")
        GoalFactory(agreement=world["city"], title="Ohne Daten", indicator=empty, region=tree["D1"],
                    target_value=1, target_date=datetime.date(2099, 12, 31))
        GoalFactory(agreement=world["city"], title="Anderswo", indicator=indicator, region=tree["P21"])
        page = text(client_for(planner).get(url("D1")))
        assert ("Mehr Betreuung Vertrag Stadt Nord-West Betreuungsquote 40,0 % (2021) 50,0 % (bis 31.12.2099) "
                "45,0 % (2023) 50,0 % des Wegs zum Zielwert auf dem Weg") in page
        assert "Ohne Daten Vertrag Stadt Nord Ohne Werte – 1,00 Personen (bis 31.12.2099) – – keine Werte" in page
        assert "Anderswo" not in page
        assert "Anderswo" in text(client_for(planner).get(url("D2")))

    def test_goal_achieved_and_missed(self, world, planner):
        tree = world["tree"]
        indicator = IndicatorFactory(key="arbeitslose", name="Arbeitslosenquote", unit="%", decimals=1)
        IndicatorValueFactory(indicator=indicator, region=tree["P11"], period="2020", value="12")
        IndicatorValueFactory(indicator=indicator, region=tree["P12"], period="2020", value="12")
        IndicatorValueFactory(indicator=indicator, region=tree["P11"], period="2024", value="9")
        IndicatorValueFactory(indicator=indicator, region=tree["P12"], period="2024", value="11")
        GoalFactory(agreement=world["city"], title="West sinkt", indicator=indicator, region=tree["P11"],
                    target_value=10, target_date=datetime.date(2030, 1, 1))
        GoalFactory(agreement=world["city"], title="Ost sinkt", indicator=indicator, region=tree["P12"],
                    target_value=10, target_date=datetime.date(2024, 1, 1))
        page = text(client_for(planner).get(url("D1")))
        assert "150,0 % des Wegs zum Zielwert erreicht" in page
        assert "50,0 % des Wegs zum Zielwert verfehlt" in page

    def test_goals_follow_agreement_visibility(self, world, provider_editor_b):
        GoalFactory(agreement=world["city"], title="Geheimes Ziel", region=world["tree"]["P11"])
        assert "Geheimes Ziel" not in text(client_for(provider_editor_b).get(url("D1")))

    def test_need_reports_in_the_subtree_with_status(self, world, planner, provider_editor_b, org_b):
        tree = world["tree"]
        NeedReportFactory(title="Kitaplätze fehlen", region=tree["P11"], reporter=org_b)
        NeedReportFactory(title="Jugendtreff zu klein", region=tree["D1"], reporter=world["orgs"]["Alpha"])
        NeedReportFactory(title="Woanders", region=tree["P21"], reporter=org_b)
        page = text(client_for(planner).get(url("D1")))
        assert "Kitaplätze fehlen Träger B gGmbH Nord-West" in page
        assert re.search(r"Jugendtreff zu klein Alpha Nord Handlungsfeld feld-\d+ \d\d\.\d\d\.\d{4} neu", page)
        assert "Woanders" not in page
        page = text(client_for(provider_editor_b).get(url("D1")))
        assert "Kitaplätze fehlen" in page and "Jugendtreff zu klein" not in page  # others' reports stay hidden


class TestQueries:
    def build(self, world, n):
        for i in range(n):
            org = OrganizationFactory(name=f"Träger {i:03d}")
            NetworkMemberFactory(network=world["nord"], organization=org)
            AgreementPartyFactory(agreement=world["city"], organization=org)
            NeedReportFactory(region=world["tree"]["P11"], reporter=org)
        indicator = IndicatorFactory(key=f"ind-{n}")
        for region in ("P11", "P12"):
            IndicatorValueFactory(indicator=indicator, region=world["tree"][region], period="2022", value=3)
            GoalFactory(agreement=world["city"], indicator=indicator, region=world["tree"][region])

    @pytest.mark.parametrize("persona", ["planner", "provider_editor_a"])
    def test_query_count_does_not_grow_with_organisations(self, world, personas, persona,
                                                          django_assert_max_num_queries):
        client = client_for(personas[persona])
        self.build(world, 3)
        with CaptureQueriesContext(connection) as few:
            assert client.get(url("D1")).status_code == 200
        self.build(world, 40)
        # session, user, role scopes, region, 2 × (touching_region's region lookup, agreements / networks),
        # members, parties, linkable organisations, need reports, goals, indicator values, unread
        # notifications (base template); provider staff: memberships and branches instead of the links
        with django_assert_max_num_queries(15):
            response = client.get(url("D1"))
        assert response.status_code == 200
        with CaptureQueriesContext(connection) as many:
            client.get(url("D1"))
        assert len(many) == len(few)

