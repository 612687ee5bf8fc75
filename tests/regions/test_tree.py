"""The region tree: materialised paths, validation of parents and levels, moves,
rebuild_paths, database constraints."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from regions.models import Region, rebuild_paths
from tests.factories import RegionFactory, RegionLevelFactory

pytestmark = pytest.mark.django_db


def assert_consistent():
    """Every region's path is its parent's path plus its own id; depth matches."""
    regions = {r.pk: r for r in Region.objects.all()}
    for r in regions.values():
        parent_path = regions[r.parent_id].path if r.parent_id else ""
        assert r.path == f"{parent_path}{r.pk}/", r
        assert r.depth == r.path.count("/") - 1, r


@pytest.fixture
def deep_levels(db):
    return [RegionLevelFactory(key=f"deep{i}", name=f"Ebene {i}", rank=100 + i) for i in range(10)]


@pytest.fixture
def chain(deep_levels):
    """A chain of 10 regions, one per level."""
    regions = []
    parent = None
    for i, level in enumerate(deep_levels):
        parent = RegionFactory(code=f"C{i}", level=level, parent=parent)
        regions.append(parent)
    return regions


class TestPaths:
    def test_paths_and_depths(self, tree):
        city, d1, p11 = tree["CITY"], tree["D1"], tree["P11"]
        assert city.path == f"{city.pk}/" and city.depth == 0
        assert d1.path == f"{city.pk}/{d1.pk}/" and d1.depth == 1
        assert p11.path == f"{city.pk}/{d1.pk}/{p11.pk}/" and p11.depth == 2
        assert p11.ancestor_ids == [city.pk, d1.pk]
        assert_consistent()

    def test_stored_path_equals_instance(self, tree):
        for region in tree.values():
            stored = Region.objects.get(pk=region.pk)
            assert (stored.path, stored.depth) == (region.path, region.depth)

    def test_ancestors_in_one_query(self, tree, django_assert_num_queries):
        p11 = Region.objects.get(code="P11")
        with django_assert_num_queries(1):
            codes = [r.code for r in p11.ancestors()]
        assert codes == ["CITY", "D1"]
        with django_assert_num_queries(1):
            assert [r.code for r in p11.ancestors(include_self=True)] == ["CITY", "D1", "P11"]

    def test_descendants_in_one_query(self, tree, django_assert_num_queries):
        city = Region.objects.get(code="CITY")
        with django_assert_num_queries(1):
            codes = sorted(r.code for r in city.descendants())
        assert codes == ["D1", "D2", "P11", "P12", "P21"]
        d1 = Region.objects.get(code="D1")
        with django_assert_num_queries(1):
            assert sorted(r.code for r in d1.descendants(include_self=True)) == ["D1", "P11", "P12"]

    def test_one_query_at_any_depth(self, chain, django_assert_num_queries):
        leaf = Region.objects.get(code="C9")
        root = Region.objects.get(code="C0")
        assert leaf.depth == 9
        with django_assert_num_queries(1):
            assert [r.code for r in leaf.ancestors()] == [f"C{i}" for i in range(9)]
        with django_assert_num_queries(1):
            assert sorted(r.code for r in root.descendants()) == sorted(f"C{i}" for i in range(1, 10))
        middle = Region.objects.get(code="C5")
        with django_assert_num_queries(1):
            assert Region.objects.subtree(middle).count() == 5

    def test_sibling_with_prefix_id_not_in_subtree(self, levels):
        """path '…/6100002/' must not match '…/61000020/': every segment ends with '/'."""
        specs = [(6_100_001, "X", "land", None), (6_100_002, "X1", "bezirk", 6_100_001),
                 (61_000_020, "X2", "bezirk", 6_100_001), (61_000_021, "X21", "planungsraum", 61_000_020)]
        Region.objects.bulk_create(
            [Region(id=i, code=c, name=c, level=levels[lv], parent_id=p) for i, c, lv, p in specs]
        )
        rebuild_paths()
        first, lookalike, child = (Region.objects.get(code=c) for c in ("X1", "X2", "X21"))
        assert lookalike.path.startswith(first.path.rstrip("/"))
        assert list(first.descendants()) == []
        assert set(Region.objects.subtree(first)) == {first}
        assert set(Region.objects.subtree(lookalike)) == {lookalike, child}

    def test_new_region_with_explicit_id(self, tree, levels):
        """Regression: a new region with an explicit id (path '') was refused as a cycle."""
        region = Region(id=6_200_001, code="EXPL", name="mit fester ID", level=levels["bezirk"], parent=tree["CITY"])
        region.save()
        assert region.path == f"{tree['CITY'].path}6200001/"


class TestValidation:
    def test_cycle_rejected(self, tree):
        d1 = Region.objects.get(code="D1")
        d1.parent = Region.objects.get(code="P11")  # its own child
        with pytest.raises(ValidationError) as exc:
            d1.save()
        assert "parent" in exc.value.message_dict
        assert "Zyklus" in exc.value.message_dict["parent"][0]
        d1.refresh_from_db()
        assert d1.parent.code == "CITY"
        assert_consistent()

    def test_cycle_deep_descendant_rejected(self, chain):
        c3 = Region.objects.get(code="C3")
        c3.parent = Region.objects.get(code="C8")
        with pytest.raises(ValidationError) as exc:
            c3.save()
        assert "Zyklus" in exc.value.message_dict["parent"][0]

    def test_own_parent_rejected(self, tree):
        d1 = Region.objects.get(code="D1")
        d1.parent = d1
        with pytest.raises(ValidationError) as exc:
            d1.save()
        assert "Zyklus" in exc.value.message_dict["parent"][0]

    def test_own_parent_rejected_by_database(self, tree):
        d1 = tree["D1"]
        with pytest.raises(IntegrityError, match="region_not_own_parent"), transaction.atomic():
            Region.objects.filter(pk=d1.pk).update(parent=d1.pk)

    def test_level_not_below_parent_rejected(self, tree, levels):
        region = Region(code="BAD", name="falsch", level=levels["bezirk"], parent=tree["P11"])
        with pytest.raises(ValidationError) as exc:
            region.save()
        assert "Ebene passt nicht" in exc.value.message_dict["level"][0]
        assert not Region.objects.filter(code="BAD").exists()

    def test_same_level_as_parent_rejected(self, tree, levels):
        region = Region(code="BAD", name="falsch", level=levels["bezirk"], parent=tree["D1"])
        with pytest.raises(ValidationError) as exc:
            region.full_clean()
        assert "level" in exc.value.message_dict

    def test_level_change_above_children_rejected(self, tree, levels):
        d1 = Region.objects.get(code="D1")
        d1.level = levels["planungsraum"]  # its children P11/P12 are Planungsräume too
        with pytest.raises(ValidationError) as exc:
            d1.save()
        assert "level" in exc.value.message_dict


class TestMove:
    @pytest.fixture
    def four_levels(self, db):
        return [RegionLevelFactory(key=k, name=k, rank=r) for r, k in enumerate(["m0", "m1", "m2", "m3"])]

    @pytest.fixture
    def forest(self, four_levels):
        l0, l1, l2, l3 = four_levels
        city = RegionFactory(code="M", level=l0)
        a = RegionFactory(code="MA", level=l1, parent=city)
        b = RegionFactory(code="MB", level=l1, parent=city)
        br = RegionFactory(code="MA1", level=l2, parent=a)
        leaves = [RegionFactory(code=f"MA1{i}", level=l3, parent=br) for i in range(4)]
        other = RegionFactory(code="MA2", level=l2, parent=a)
        other_leaf = RegionFactory(code="MA21", level=l3, parent=other)
        return {"city": city, "a": a, "b": b, "br": br, "leaves": leaves, "other": other, "other_leaf": other_leaf}

    def check_subtree(self, moved_code, parent_code):
        moved = Region.objects.get(code=moved_code)
        parent = Region.objects.get(code=parent_code)
        assert moved.path == f"{parent.path}{moved.pk}/"
        assert moved.depth == parent.depth + 1
        descendants = list(moved.descendants())
        assert descendants, "the moved region has descendants"
        for d in descendants:
            assert d.path.startswith(moved.path)
            assert d.path.startswith(parent.path)
            assert d.depth == d.path.count("/") - 1
            assert d.depth > moved.depth

    def test_move_to_sibling_district(self, forest):
        br = Region.objects.get(code="MA1")
        br.parent = Region.objects.get(code="MB")
        br.save()
        self.check_subtree("MA1", "MB")
        assert {r.code for r in Region.objects.get(code="MB").descendants()} == {"MA1", "MA10", "MA11", "MA12", "MA13"}
        assert {r.code for r in Region.objects.get(code="MA").descendants()} == {"MA2", "MA21"}
        assert_consistent()

    def test_move_up_a_level_changes_depths(self, forest):
        br = Region.objects.get(code="MA1")
        br.parent = Region.objects.get(code="M")  # rank 0 above rank 2: allowed, depth shrinks
        br.save()
        self.check_subtree("MA1", "M")
        assert Region.objects.get(code="MA1").depth == 1
        assert {r.depth for r in Region.objects.filter(code__startswith="MA1").exclude(code="MA1")} == {2}
        assert_consistent()
        assert rebuild_paths() == 0

    def test_move_whole_district_to_new_root(self, forest, four_levels):
        other_root = RegionFactory(code="N", level=four_levels[0])
        a = Region.objects.get(code="MA")
        a.parent = other_root
        a.save()
        self.check_subtree("MA", "N")
        assert Region.objects.get(code="MA21").path.startswith(other_root.path)
        assert Region.objects.get(code="MA21").depth == 3
        assert_consistent()

    def test_move_does_not_touch_others(self, forest):
        before = dict(Region.objects.exclude(code__startswith="MA1").values_list("code", "path"))
        br = Region.objects.get(code="MA1")
        br.parent = Region.objects.get(code="MB")
        br.save()
        after = dict(Region.objects.exclude(code__startswith="MA1").values_list("code", "path"))
        assert before == after

    def test_rename_keeps_paths(self, forest, django_assert_max_num_queries):
        before = dict(Region.objects.values_list("code", "path"))
        br = Region.objects.get(code="MA1")
        br.name = "neu"
        br.save()
        assert dict(Region.objects.values_list("code", "path")) == before


class TestRebuildPaths:
    def test_consistent_tree_changes_nothing(self, tree):
        assert rebuild_paths() == 0
        assert rebuild_paths() == 0

    def test_repairs_and_is_idempotent(self, tree):
        expected = dict(Region.objects.values_list("code", "path"))
        Region.objects.filter(code__in=["D1", "P11", "P21"]).update(path="kaputt/", depth=7)
        assert rebuild_paths() == 3
        assert dict(Region.objects.values_list("code", "path")) == expected
        assert rebuild_paths() == 0
        assert_consistent()


class TestConstraints:
    def test_duplicate_code(self, tree, levels):
        with pytest.raises(IntegrityError, match="region_code_unique"), transaction.atomic():
            RegionFactory(code="D1", level=levels["bezirk"], parent=tree["CITY"])

    def test_duplicate_code_message_in_validation(self, tree, levels):
        region = Region(code="D1", name="Doppelt", level=levels["bezirk"], parent=tree["CITY"])
        with pytest.raises(ValidationError) as exc:
            region.validate_constraints()
        assert "Ein Raum mit diesem Schlüssel existiert bereits." in str(exc.value)

    def test_leading_zeros_kept_and_distinct(self, levels):
        a = RegionFactory(code="0110", level=levels["land"])
        b = RegionFactory(code="110", level=levels["land"])
        assert a.pk != b.pk
        assert Region.objects.get(code="0110").pk == a.pk
        assert Region.objects.get(code="110").pk == b.pk
        assert Region.objects.filter(code="0110").values_list("code", flat=True).get() == "0110"

    def test_delete_parent_with_children_protected(self, tree):
        from django.db.models import ProtectedError

        with pytest.raises(ProtectedError):
            tree["D1"].delete()
