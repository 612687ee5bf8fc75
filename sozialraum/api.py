"""The REST API under /api/v1/: one router for every app."""

from rest_framework.routers import DefaultRouter

from core.api.imports import ImportRunViewSet
from regions.api.views import IndicatorValueViewSet, IndicatorViewSet, RegionLevelViewSet, RegionViewSet

router = DefaultRouter()
router.register("region-levels", RegionLevelViewSet, basename="region-level")
router.register("regions", RegionViewSet, basename="region")
router.register("indicators", IndicatorViewSet, basename="indicator")
router.register("indicator-values", IndicatorValueViewSet, basename="indicator-value")
router.register("imports", ImportRunViewSet, basename="import-run")
