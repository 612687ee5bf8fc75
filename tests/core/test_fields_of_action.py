"""Fields of action (Handlungsfelder): the German default set shipped by the data
migration, the tree (subtree in one query, cycles and depth refused, moves,
deactivation), the merge command, the API per persona, filters, the pages and
their query counts.
"""

import re
from io import StringIO

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from core import audit
from core.fields_of_action import DEFAULT_FIELDS, merge_fields_of_action
from core.models import FieldOfAction
from tests.conftest import client_for
from tests.factories import FieldOfActionFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/fields-of-action"
HZE_KEYS = {
    "kjh-hze", "kjh-hze-erziehungsberatung", "kjh-hze-gruppenarbeit", "kjh-hze-erziehungsbeistand", "kjh-hze-spfh",
    "kjh-hze-tagesgruppe", "kjh-hze-vollzeitpflege", "kjh-hze-heimerziehung", "kjh-hze-ise",
}
REFUSED_WRITERS = ["viewer", "region_lead", "provider_editor_a", "provider_editor_b", "scoped_planner"]
READERS = ["planner", "viewer", "region_lead", "provider_editor_a", "provider_editor_b", "scoped_planner"]


def get(key) -> FieldOfAction:
    return FieldOfAction.objects.get(key=key)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.fixture
def users(personas, scoped_planner):
    return {**personas, "scoped_planner": scoped_planner}


@pytest.fixture
def clients(users):
    return {name: client_for(user) for name, user in users.items()}


# --- The default set ----------------------------------------------------------------


class TestDefaultSet:
    def test_present_after_migrate_as_shipped(self):
        rows = {f.key: f for f in FieldOfAction.objects.select_related("parent")}
        assert len(rows) == len(DEFAULT_FIELDS) == 33
        for d in DEFAULT_FIELDS:
            f = rows[d["key"]]
            assert (f.name, f.legal_basis, f.order, f.description) == (
                d["name"], d["legal_basis"], d["order"], d["description"]
            ), d["key"]
            assert (f.parent.key if f.parent else None) == d["parent"]
            assert f.active

    def test_keys_names_and_legal_bases(self):
        expected = {
            "kjh": ("Kinder- und Jugendhilfe", "SGB VIII"),
            "kjh-hze": ("Hilfen zur Erziehung", "§§ 27 ff. SGB VIII"),
            "kjh-jugendarbeit": ("Jugendarbeit", "§ 11 SGB VIII"),
            "kjh-jugendschutz": ("Kinder- und Jugendschutz", "§ 14 SGB VIII"),
            "kjh-familienfoerderung": ("Förderung der Erziehung in der Familie", "§§ 16–21 SGB VIII"),
            "kjh-kita": ("Kindertagesbetreuung", "§§ 22 ff. SGB VIII"),
            "kjh-eingliederungshilfe": ("Eingliederungshilfe für junge Menschen mit seelischer Behinderung",
                                        "§ 35a SGB VIII"),
            "kjh-inobhutnahme": ("Inobhutnahme", "§ 42 SGB VIII"),
            "altenhilfe": ("Altenhilfe", "§ 71 SGB XII"),
            "pflege": ("Pflege", "SGB XI; §§ 61 ff. SGB XII"),
            "wohnen": ("Wohnen und Wohnungsnotfallhilfe", "§§ 67 ff. SGB XII"),
            "eingliederungshilfe": ("Eingliederungshilfe", "SGB IX Teil 2"),
            "arbeit": ("Arbeit und Beschäftigung", "SGB II; SGB III"),
        }
        for key, (name, legal_basis) in expected.items():
            f = get(key)
            assert (f.name, f.legal_basis) == (name, legal_basis)
        for key in ("kjh-fruehe-hilfen", "kjh-jugendsozialarbeit", "gesundheit", "migration", "sucht",
                    "schuldnerberatung", "familienbildung", "gewaltschutz", "bildung", "quartiersmanagement",
                    "existenzsicherung"):
            assert FieldOfAction.objects.filter(key=key).exists(), key

    def test_hierarchy(self):
        assert FieldOfAction.objects.filter(depth=0).count() == 15
        assert set(FieldOfAction.objects.filter(parent__key="kjh").values_list("key", flat=True)) >= {
            "kjh-hze", "kjh-jugendarbeit", "kjh-inobhutnahme", "kjh-fruehe-hilfen"
        }
        assert max(FieldOfAction.objects.values_list("depth", flat=True)) == 2
        spfh = get("kjh-hze-spfh")
        assert spfh.depth == 2 and spfh.parent.key == "kjh-hze" and spfh.parent.parent.key == "kjh"
        for f in FieldOfAction.objects.select_related("parent"):
            parent_path = f.parent.path if f.parent else ""
            assert f.path == f"{parent_path}{f.pk}/"
            assert f.depth == f.path.count("/") - 1

    def test_migration_recorded_in_history(self):
        events = audit.history(get("kjh-hze"))
        assert [e["label"] for e in events] == ["insert"]
        assert events[0]["source"].startswith("migrate core 0003")


# --- The tree -----------------------------------------------------------------------------


class TestTree:
    def test_subtree_in_one_query(self, django_assert_num_queries):
        kjh = get("kjh")
        with django_assert_num_queries(1):
            keys = set(FieldOfAction.objects.subtree(kjh).values_list("key", flat=True))
        assert "kjh" in keys and HZE_KEYS <= keys and "altenhilfe" not in keys
        assert len(keys) == 19
        with django_assert_num_queries(1):  # by key: resolved in the same query
            assert set(FieldOfAction.objects.subtree("kjh-hze").values_list("key", flat=True)) == HZE_KEYS
        with django_assert_num_queries(1):
            below = set(FieldOfAction.objects.subtree("kjh-hze", include_self=False).values_list("key", flat=True))
        assert below == HZE_KEYS - {"kjh-hze"}
        assert not FieldOfAction.objects.subtree("gibt-es-nicht").exists()
        assert list(kjh.descendants(include_self=True).values_list("key", flat=True)) == list(
            FieldOfAction.objects.subtree(kjh).values_list("key", flat=True)
        )

    def test_subtree_as_a_subquery_stays_one_query(self, django_assert_num_queries):
        # how other apps filter "this field including sub-fields" (e.g. budgets)
        with django_assert_num_queries(1):
            n = FieldOfAction.objects.filter(pk__in=FieldOfAction.objects.subtree("kjh-hze").values("pk")).count()
        assert n == 9

    def test_ancestors(self):
        spfh = get("kjh-hze-spfh")
        assert [f.key for f in spfh.ancestors()] == ["kjh", "kjh-hze"]
        assert [f.key for f in spfh.ancestors(include_self=True)] == ["kjh", "kjh-hze", "kjh-hze-spfh"]

    def test_tree_order_parents_first_siblings_by_order_then_name(self):
        keys = list(FieldOfAction.objects.tree_order().values_list("key", flat=True))
        assert keys[:3] == ["kjh", "kjh-jugendarbeit", "kjh-jugendsozialarbeit"]
        assert keys.index("kjh-hze") < keys.index("kjh-hze-spfh") < keys.index("kjh-eingliederungshilfe")
        assert keys[-1] == "quartiersmanagement"
        # a change of order among siblings
        FieldOfAction.objects.filter(key="quartiersmanagement").update(order=1)
        keys = list(FieldOfAction.objects.tree_order().values_list("key", flat=True))
        assert keys[0] == "quartiersmanagement" and keys[1] == "kjh"
        # filtered: the order holds without the parents in the result
        keys = list(FieldOfAction.objects.filter(depth=2).tree_order().values_list("key", flat=True))
        assert keys[0] == "kjh-hze-erziehungsberatung" and keys[-1] == "kjh-hze-ise"

    def test_cycle_refused(self):
        kjh = get("kjh")
        kjh.parent = get("kjh-hze-spfh")
        with pytest.raises(ValidationError) as e:
            kjh.save()
        assert "Zyklus" in e.value.message_dict["parent"][0]
        kjh.parent = kjh
        with pytest.raises(ValidationError) as e:
            kjh.save()
        assert "parent" in e.value.message_dict
        assert get("kjh").parent_id is None

    def test_own_parent_refused_by_the_database(self):
        kjh = get("kjh")
        with pytest.raises(IntegrityError, match="fieldofaction_not_own_parent"), transaction.atomic():
            FieldOfAction.objects.filter(pk=kjh.pk).update(parent=kjh)

    def test_at_most_three_levels(self):
        with pytest.raises(ValidationError) as e:
            FieldOfAction(key="zu-tief", name="Zu tief", parent=get("kjh-hze-spfh")).save()
        assert "höchstens 3 Ebenen" in e.value.message_dict["parent"][0]
        kjh = get("kjh")  # three levels: cannot go below anything
        kjh.parent = get("altenhilfe")
        with pytest.raises(ValidationError):
            kjh.save()

    def test_move_rewrites_the_subtree(self, django_assert_max_num_queries):
        hze, alt = get("kjh-hze"), get("altenhilfe")
        hze.parent = alt
        with django_assert_max_num_queries(6):
            hze.save()
        spfh = get("kjh-hze-spfh")
        assert spfh.path == f"{alt.pk}/{hze.pk}/{spfh.pk}/" and spfh.depth == 2
        assert set(FieldOfAction.objects.subtree("altenhilfe").values_list("key", flat=True)) == HZE_KEYS | {"altenhilfe"}
        assert "kjh-hze-spfh" not in set(FieldOfAction.objects.subtree("kjh").values_list("key", flat=True))
        hze.parent = None  # to the top
        hze.save()
        assert get("kjh-hze-spfh").depth == 1

    def test_save_without_a_move_does_no_tree_work(self, django_assert_num_queries):
        spfh = get("kjh-hze-spfh")
        spfh.name = "SPFH"
        # the parent (for its path), the UPDATE, and the savepoint around them
        with django_assert_num_queries(4):
            spfh.save()

    def test_key_unique(self):
        with pytest.raises(ValidationError) as e:
            FieldOfAction(key="kjh", name="Doppelt").full_clean()
        assert e.value.message_dict["key"] == ["Ein Handlungsfeld mit diesem Schlüssel existiert bereits."]
        with pytest.raises(IntegrityError, match="fieldofaction_key_unique"), transaction.atomic():
            FieldOfAction(key="kjh", name="Doppelt").save()

    def test_key_format_and_reserved(self):
        for key in ("KJH-Neu", "mit leerzeichen", "-vorn", "doppelt--strich", "umlaut-ä"):
            with pytest.raises(ValidationError) as e:
                FieldOfAction(key=key, name="X").full_clean()
            assert "key" in e.value.message_dict, key
        with pytest.raises(IntegrityError, match="fieldofaction_key_format"), transaction.atomic():
            FieldOfAction.objects.filter(key="kjh").update(key="KJH")
        with pytest.raises(ValidationError) as e:
            FieldOfAction(key="neu", name="X").full_clean()
        assert e.value.message_dict["key"] == ["Dieser Schlüssel ist reserviert."]

    def test_deactivation_passes_to_sub_fields(self):
        hze = get("kjh-hze")
        hze.active = False
        hze.save()
        assert not FieldOfAction.objects.subtree(hze).filter(active=True).exists()
        assert get("kjh").active and get("kjh-jugendarbeit").active
        spfh = get("kjh-hze-spfh")
        spfh.active = True
        with pytest.raises(ValidationError) as e:
            spfh.save()
        assert "inaktiv" in e.value.message_dict["active"][0]
        # the sub-field's deactivation is in its history too
        assert audit.history(spfh)[0]["changes"] == [("active", True, False)]

    def test_field_with_sub_fields_cannot_be_deleted(self):
        with pytest.raises(ProtectedError):
            get("kjh-hze").delete()


# --- Merging the default set ---------------------------------------------------------------


class TestLoadFieldsOfAction:
    def run(self, *args):
        out = StringIO()
        call_command("load_fields_of_action", *args, stdout=out)
        return out.getvalue()

    def test_idempotent(self, django_assert_max_num_queries):
        before = list(FieldOfAction.objects.values_list("pk", "key", "name", "path", "updated_at"))
        assert "created=0, updated=0, unchanged=33, kept=0, skipped=0" in self.run()
        with django_assert_max_num_queries(4):  # fields, deleted keys, savepoint and its release
            merge_fields_of_action()
        assert "created=0" in self.run("--update-untouched")
        assert list(FieldOfAction.objects.values_list("pk", "key", "name", "path", "updated_at")) == before

    def test_adds_missing_fields_below_their_parent(self):
        extra = [*DEFAULT_FIELDS, {"key": "kjh-hze-neu", "name": "Neue Hilfeart", "parent": "kjh-hze",
                                   "legal_basis": "§ 27 Abs. 2 SGB VIII", "order": 90, "description": ""}]
        result = merge_fields_of_action(extra)
        assert result["created"] == ["kjh-hze-neu"]
        new = get("kjh-hze-neu")
        assert new.parent.key == "kjh-hze" and new.depth == 2 and new.path.startswith(get("kjh-hze").path)
        assert merge_fields_of_action(extra)["created"] == []

    def test_does_not_overwrite_a_renamed_field(self, planner):
        client_for(planner).patch(f"{API}/kjh-hze/", {"name": "HzE (umbenannt)", "order": 5}, format="json")
        out = self.run("--update-untouched")
        assert "kept=1" in out and "kjh-hze" in out
        f = get("kjh-hze")
        assert (f.name, f.order) == ("HzE (umbenannt)", 5)

    def test_updates_untouched_fields_only_when_asked(self):
        changed = [dict(d, legal_basis="§ 71 SGB XII (neu)") if d["key"] == "altenhilfe" else d for d in DEFAULT_FIELDS]
        assert merge_fields_of_action(changed)["kept"] == ["altenhilfe"]
        assert get("altenhilfe").legal_basis == "§ 71 SGB XII"
        assert merge_fields_of_action(changed, update_untouched=True)["updated"] == ["altenhilfe"]
        assert get("altenhilfe").legal_basis == "§ 71 SGB XII (neu)"

    def test_keeps_a_deactivation_and_does_not_restore_a_deleted_field(self, planner):
        client_for(planner).patch(f"{API}/sucht/", {"active": False}, format="json")
        get("kjh-hze-ise").delete()
        result = merge_fields_of_action(update_untouched=True)
        assert result["created"] == [] and ("kjh-hze-ise", "gelöscht") in result["skipped"]
        assert not get("sucht").active
        assert not FieldOfAction.objects.filter(key="kjh-hze-ise").exists()

    def test_restores_the_set_into_an_empty_table(self):
        with connection.cursor() as cur:  # an installation that predates the set, history and all
            cur.execute("DELETE FROM core_fieldofaction WHERE depth = 2")
            cur.execute("DELETE FROM core_fieldofaction WHERE depth = 1")
            cur.execute("DELETE FROM core_fieldofaction")
            cur.execute("DELETE FROM core_fieldofactionevent")
        assert "created=33" in self.run()
        assert FieldOfAction.objects.subtree("kjh-hze").count() == 9
        assert "created=0" in self.run()

    def test_dry_run_writes_nothing(self):
        with connection.cursor() as cur:
            cur.execute("DELETE FROM core_fieldofaction WHERE key = 'bildung'")
            cur.execute("DELETE FROM core_fieldofactionevent WHERE key = 'bildung'")
        out = self.run("--dry-run")
        assert out.startswith("Probelauf") and "created=1" in out
        assert not FieldOfAction.objects.filter(key="bildung").exists()


# --- API ------------------------------------------------------------------------------------


class TestApiAccess:
    def test_anonymous_refused(self, clients):
        for url in (f"{API}/", f"{API}/kjh/"):
            response = clients["anonymous"].get(url)
            assert response.status_code in (401, 403) and set(response.json()) == {"detail"}
        assert clients["anonymous"].post(f"{API}/", {"key": "x", "name": "X"}).status_code in (401, 403)
        assert FieldOfAction.objects.filter(key="x").count() == 0

    @pytest.mark.parametrize("persona", READERS)
    def test_everyone_signed_in_reads(self, clients, persona):
        response = clients[persona].get(f"{API}/")
        assert response.status_code == 200
        assert response.json()["count"] == 33
        detail = clients[persona].get(f"{API}/kjh-hze/").json()
        assert detail["name"] == "Hilfen zur Erziehung" and detail["parent"] == "kjh"
        assert detail["legal_basis"] == "§§ 27 ff. SGB VIII" and detail["depth"] == 1

    @pytest.mark.parametrize("persona", REFUSED_WRITERS)
    def test_writes_refused(self, clients, persona):
        client = clients[persona]
        assert client.post(f"{API}/", {"key": "neu-feld", "name": "Neu"}, format="json").status_code == 403
        assert client.patch(f"{API}/altenhilfe/", {"name": "X"}, format="json").status_code == 403
        assert client.put(f"{API}/altenhilfe/", {"key": "altenhilfe", "name": "X"}, format="json").status_code == 403
        assert client.delete(f"{API}/bildung/").status_code == 403
        assert get("altenhilfe").name == "Altenhilfe" and FieldOfAction.objects.filter(key="bildung").exists()
        assert not FieldOfAction.objects.filter(key="neu-feld").exists()

    def test_unknown_key_is_404(self, clients):
        assert clients["viewer"].get(f"{API}/gibt-es-nicht/").status_code == 404


class TestApiWrites:
    def test_planner_creates_changes_and_deletes(self, clients, planner):
        client = clients["planner"]
        response = client.post(f"{API}/", {
            "key": "kjh-hze-41", "name": "Hilfe für junge Volljährige (HzE)", "parent": "kjh-hze",
            "legal_basis": "§ 41 SGB VIII", "order": 90,
        }, format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["depth"] == 2 and body["parent"] == "kjh-hze" and body["active"] is True
        new = get("kjh-hze-41")
        assert new.created_by == planner and new.path == f"{get('kjh-hze').path}{new.pk}/"
        response = client.patch(f"{API}/kjh-hze-41/", {"name": "Junge Volljährige", "active": False}, format="json")
        assert response.status_code == 200 and response.json()["active"] is False
        assert get("kjh-hze-41").updated_by == planner
        assert client.delete(f"{API}/kjh-hze-41/").status_code == 204
        assert not FieldOfAction.objects.filter(key="kjh-hze-41").exists()

    def test_superuser_writes(self, superuser):
        response = client_for(superuser).post(f"{API}/", {"key": "sport", "name": "Sport"}, format="json")
        assert response.status_code == 201

    def test_delete_of_a_field_in_use_is_409(self, clients):
        response = clients["planner"].delete(f"{API}/kjh-hze/")
        assert response.status_code == 409
        assert "wird noch verwendet" in response.json()["detail"]
        assert FieldOfAction.objects.filter(key="kjh-hze").exists()

    def test_validation_errors_per_field(self, clients):
        client = clients["planner"]
        cases = [
            ({"key": "kjh", "name": "Doppelt"}, "key", "Ein Handlungsfeld mit diesem Schlüssel existiert bereits."),
            ({"key": "Gross", "name": "X"}, "key", "Nur Kleinbuchstaben"),
            ({"key": "x", "name": ""}, "name", ""),
            ({"key": "x", "name": "X", "parent": "gibt-es-nicht"}, "parent", ""),
            ({"key": "x", "name": "X", "parent": "kjh-hze-spfh"}, "parent", "höchstens 3 Ebenen"),
        ]
        for payload, field, message in cases:
            response = client.post(f"{API}/", payload, format="json")
            assert response.status_code == 400, payload
            assert field in response.json(), response.json()
            assert message in response.json()[field][0]
        response = client.patch(f"{API}/kjh/", {"parent": "kjh-hze"}, format="json")
        assert response.status_code == 400 and "Zyklus" in response.json()["parent"][0]
        response = client.patch(f"{API}/kjh/", {"key": "kinder-jugend"}, format="json")
        assert response.status_code == 400 and "unverändert" in response.json()["key"][0]
        response = client.put(f"{API}/bildung/", {"key": "bildung", "name": "Bildung und Lernen"}, format="json")
        assert response.status_code == 200 and get("bildung").name == "Bildung und Lernen"

    def test_history_names_the_api_user(self, clients, planner):
        clients["planner"].patch(f"{API}/altenhilfe/", {"legal_basis": "§ 71 SGB XII; Landesrecht"}, format="json")
        event = audit.history(get("altenhilfe"))[0]
        assert event["user"] == planner
        assert ("legal_basis", "§ 71 SGB XII", "§ 71 SGB XII; Landesrecht") in event["changes"]


class TestApiFilters:
    def keys(self, client, query):
        response = client.get(f"{API}/?{query}&page_size=1000")
        assert response.status_code == 200, response.json()
        return [row["key"] for row in response.json()["results"]]

    def test_ancestor_gives_the_subtree(self, clients):
        client = clients["viewer"]
        assert set(self.keys(client, "ancestor=kjh-hze")) == HZE_KEYS
        assert len(self.keys(client, "ancestor=kjh")) == 19
        assert self.keys(client, "ancestor=altenhilfe") == ["altenhilfe"]
        assert self.keys(client, "ancestor=gibt-es-nicht") == []

    def test_active_q_parent_depth(self, clients):
        client = clients["viewer"]
        FieldOfAction.objects.filter(key__in=["sucht", "bildung"]).update(active=False)
        assert self.keys(client, "active=false") == ["sucht", "bildung"]
        assert len(self.keys(client, "active=true")) == 31
        assert set(self.keys(client, "q=SGB%20XII")) == {"altenhilfe", "pflege", "existenzsicherung", "wohnen",
                                                         "schuldnerberatung"}
        assert self.keys(client, "q=frauenh") == ["gewaltschutz"]
        assert len(self.keys(client, "parent=kjh")) == 10
        assert len(self.keys(client, "depth=0")) == 15
        assert set(self.keys(client, "ancestor=kjh&depth=2")) == HZE_KEYS - {"kjh-hze"}

    def test_list_in_tree_order(self, clients):
        keys = self.keys(clients["viewer"], "")
        assert keys == list(FieldOfAction.objects.tree_order().values_list("key", flat=True))
        assert keys.index("kjh-hze") + 1 == keys.index("kjh-hze-erziehungsberatung")

    @pytest.mark.parametrize("query", ["", "?ancestor=kjh", "?active=true&q=hilfe"])
    def test_list_queries_pinned(self, users, query, django_assert_max_num_queries):
        client = client_for(users["viewer"])
        with django_assert_max_num_queries(2):  # count, page (ancestor resolved inside)
            assert client.get(f"{API}/{query}").status_code == 200

    def test_detail_and_write_queries_pinned(self, users, django_assert_max_num_queries):
        client = client_for(users["planner"])
        with django_assert_max_num_queries(2):
            client.get(f"{API}/kjh-hze/")
        # object, role scopes, may change, savepoint, UPDATE, release
        with django_assert_max_num_queries(6):
            assert client.patch(f"{API}/kjh-hze/", {"name": "HzE"}, format="json").status_code == 200

    def test_in_the_schema(self, clients):
        schema = clients["viewer"].get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
        assert "/api/v1/fields-of-action/" in schema["paths"]
        params = {p["name"] for p in schema["paths"]["/api/v1/fields-of-action/"]["get"]["parameters"]}
        assert {"ancestor", "active", "q", "parent", "depth"} <= params


# --- Pages ------------------------------------------------------------------------------------


LIST = "/handlungsfelder/"


class TestPages:
    def test_anonymous_sent_to_login(self, client):
        for url in (LIST, f"{LIST}kjh/", f"{LIST}neu/", f"{LIST}kjh/bearbeiten/"):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith("/anmelden/"), url

    @pytest.mark.parametrize("persona", READERS)
    def test_list_and_detail_render_for_everyone_signed_in(self, request, client, persona):
        client.force_login(request.getfixturevalue(persona))
        html = client.get(LIST).content.decode()
        assert "<h1>Handlungsfelder</h1>" in html and 'href="/handlungsfelder/" aria-current="page"' in html
        page = text(html)
        assert "Hilfen zur Erziehung" in page and "§§ 27 ff. SGB VIII" in page and "§ 71 SGB XII" in page
        assert page.index("Kinder- und Jugendhilfe") < page.index("Jugendarbeit") < page.index("Hilfen zur Erziehung")
        assert page.index("Hilfen zur Erziehung") < page.index("Erziehungsberatung") < page.index("Altenhilfe")
        assert 'class="tree-indent" data-indent="3.0"' in html  # third level indented (CSS by data-indent)
        can_add = persona == "planner"
        assert ('href="/handlungsfelder/neu/"' in html) is can_add
        html = client.get(f"{LIST}kjh-hze/").content.decode()
        page = text(html)
        assert "Änderungsverlauf" in page and "Sozialpädagogische Familienhilfe" in page
        assert "Kinder- und Jugendhilfe" in page  # breadcrumb
        assert ('href="/handlungsfelder/kjh-hze/bearbeiten/"' in html) is can_add

    def test_navigation_link_for_everyone_signed_in(self, client, provider_editor_a):
        client.force_login(provider_editor_a)
        assert 'href="/handlungsfelder/"' in client.get("/raeume/").content.decode()

    def test_filters_on_the_list(self, client, viewer):
        client.force_login(viewer)
        FieldOfAction.objects.filter(key="sucht").update(active=False)
        html = client.get(f"{LIST}?ancestor=kjh-hze").content.decode()
        rows = text(html[html.index("<tbody>"):])
        assert "9 Einträge" in text(html) and "Altenhilfe" not in rows and "Vollzeitpflege" in rows
        page = text(client.get(f"{LIST}?active=false").content.decode())
        assert "1 Eintrag" in page and "Suchthilfe" in page and "inaktiv" in page
        page = text(client.get(f"{LIST}?q=Vollzeit").content.decode())
        assert "1 Eintrag" in page and "(unter Hilfen zur Erziehung)" in page  # parent named when not listed

    @pytest.mark.parametrize("query", ["", "?ancestor=kjh&active=true&q=e"])
    def test_list_page_queries_pinned(self, client, viewer, query, django_assert_max_num_queries):
        client.force_login(viewer)
        # session, user, role scopes (navigation), unread notifications, filter choices, count, rows
        with django_assert_max_num_queries(7):
            assert client.get(f"{LIST}{query}").status_code == 200

    def test_detail_page_queries_pinned(self, client, planner, django_assert_max_num_queries):
        client.force_login(planner)
        field = get("kjh-hze")
        field.name = "HzE"
        field.stamp(planner)
        field.save()
        # session, user, object, ancestors, sub-fields, role scopes (may change), history (events, users)
        with django_assert_max_num_queries(10):
            assert client.get(f"{LIST}kjh-hze/").status_code == 200

    def test_unknown_key_is_404(self, client, viewer):
        client.force_login(viewer)
        assert client.get(f"{LIST}gibt-es-nicht/").status_code == 404


class TestEditPages:
    @pytest.mark.parametrize("persona", REFUSED_WRITERS)
    def test_refused(self, request, client, persona):
        client.force_login(request.getfixturevalue(persona))
        assert client.get(f"{LIST}neu/").status_code == 403
        assert client.post(f"{LIST}neu/", {"key": "x", "name": "X", "order": 0, "active": "on"}).status_code == 403
        assert client.get(f"{LIST}kjh/bearbeiten/").status_code == 403
        assert client.post(f"{LIST}kjh/bearbeiten/", {"name": "X", "order": 0}).status_code == 403
        assert get("kjh").name == "Kinder- und Jugendhilfe" and not FieldOfAction.objects.filter(key="x").exists()

    def test_create(self, client, planner):
        client.force_login(planner)
        html = client.get(f"{LIST}neu/?parent=kjh").content.decode()
        assert "Neues Handlungsfeld" in html
        assert re.search(r'<option value="%d" selected>Kinder- und Jugendhilfe</option>' % get("kjh").pk, html)
        assert "\u2003\u2003Sozialpädagogische Familienhilfe" in html  # the parent choice is an indented tree
        response = client.post(f"{LIST}neu/", {
            "name": "Schulbezogene Jugendsozialarbeit", "key": "kjh-schulsozialarbeit", "parent": get("kjh").pk,
            "legal_basis": "§ 13a SGB VIII", "description": "", "order": 25, "active": "on",
        })
        assert response.status_code == 302 and response["Location"] == "/handlungsfelder/kjh-schulsozialarbeit/"
        new = get("kjh-schulsozialarbeit")
        assert new.depth == 1 and new.created_by == planner and new.updated_by == planner
        page = text(client.get(response["Location"]).content.decode())
        assert "Handlungsfeld „Schulbezogene Jugendsozialarbeit“ gespeichert." in page
        assert "angelegt" in page and "planner" in page  # history with its author

    def test_german_errors_per_field(self, client, planner):
        client.force_login(planner)
        response = client.post(f"{LIST}neu/", {"name": "", "key": "", "order": "x"})
        assert response.status_code == 200
        errors = response.context["form"].errors
        assert errors["name"] == ["Bitte einen Namen angeben."]
        assert errors["key"] == ["Bitte einen Schlüssel angeben, z. B. kjh-hze."]
        assert errors["order"] == ["Bitte eine ganze Zahl angeben."]
        assert "Bitte 3 Angaben korrigieren." in response.content.decode()
        errors = client.post(f"{LIST}neu/", {"name": "X", "key": "kjh", "order": 0}).context["form"].errors
        assert errors["key"] == ["Ein Handlungsfeld mit diesem Schlüssel existiert bereits."]
        errors = client.post(f"{LIST}neu/", {"name": "X", "key": "Mit Leer", "order": 0}).context["form"].errors
        assert "Nur Kleinbuchstaben" in errors["key"][0]
        errors = client.post(f"{LIST}neu/", {"name": "X", "key": "x", "order": 0,
                                             "parent": get("kjh-hze-spfh").pk}).context["form"].errors
        assert "höchstens 3 Ebenen" in errors["parent"][0]

    def test_edit(self, client, planner):
        client.force_login(planner)
        hze = get("kjh-hze")
        html = client.get(f"{LIST}kjh-hze/bearbeiten/").content.decode()
        assert "Hilfen zur Erziehung bearbeiten" in html
        assert 'name="key"' in html and "disabled" in re.search(r'<input[^>]*name="key"[^>]*>', html).group(0)
        assert ">\u2003\u2003Vollzeitpflege<" not in html  # own sub-fields are no parent choice
        response = client.post(f"{LIST}kjh-hze/bearbeiten/", {
            "name": "Hilfen zur Erziehung (HzE)", "key": "anders", "parent": hze.parent_id,
            "legal_basis": "§§ 27–35 SGB VIII", "description": hze.description, "order": 60, "active": "on",
        })
        assert response.status_code == 302
        hze = get("kjh-hze")  # the key stays
        assert (hze.name, hze.legal_basis, hze.updated_by) == ("Hilfen zur Erziehung (HzE)", "§§ 27–35 SGB VIII", planner)
        page = text(client.get(f"{LIST}kjh-hze/").content.decode())
        assert "Hilfen zur Erziehung Hilfen zur Erziehung (HzE)" in page  # old → new in the history

    def test_edit_refuses_a_cycle_and_an_active_child_of_an_inactive_field(self, client, planner):
        client.force_login(planner)
        kjh = get("kjh")
        # a cycle cannot even be chosen: the own subtree is not offered
        response = client.post(f"{LIST}kjh/bearbeiten/", {"name": kjh.name, "parent": get("kjh-hze").pk, "order": 10,
                                                         "active": "on"})
        assert response.status_code == 200
        assert response.context["form"].errors["parent"] == ["Bitte ein Handlungsfeld aus der Liste wählen."]
        FieldOfAction.objects.filter(key="kjh-hze").update(active=False)
        response = client.post(f"{LIST}kjh-hze-spfh/bearbeiten/", {"name": "SPFH", "parent": get("kjh-hze").pk,
                                                                   "order": 40, "active": "on"})
        assert "inaktiv" in response.context["form"].errors["active"][0]

    def test_deactivate_through_the_page(self, client, planner):
        client.force_login(planner)
        hze = get("kjh-hze")
        response = client.post(f"{LIST}kjh-hze/bearbeiten/", {"name": hze.name, "parent": hze.parent_id, "order": 60,
                                                              "legal_basis": hze.legal_basis})
        assert response.status_code == 302
        assert not FieldOfAction.objects.subtree("kjh-hze").filter(active=True).exists()


class TestEnglish:
    def test_pages_in_english(self, client, planner):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        client.force_login(planner)
        html = client.get(LIST).content.decode()
        assert "<h1>Fields of action</h1>" in html and "Legal basis" in html
        html = client.get(f"{LIST}kjh-hze/").content.decode()
        assert "Sub-fields" in html and "Change history" in html
        html = client.get(f"{LIST}neu/").content.decode()
        assert "New field of action" in html


def test_factory_reuses_default_keys():
    assert FieldOfActionFactory(key="kjh").pk == get("kjh").pk
    new = FieldOfActionFactory(parent=get("altenhilfe"))
    assert new.depth == 1 and new.key.startswith("feld-")
