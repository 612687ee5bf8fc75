from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import api, health, overview, profile, provider_view, search, views

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", health.health, name="health"),
    path("uebersicht/karte/", overview.MapView.as_view(), name="overview-map"),
    path("uebersicht/budget/", overview.BudgetView.as_view(), name="overview-budget"),
    path("uebersicht/versorgung/", overview.CoverageView.as_view(), name="overview-coverage"),
    path("suche/", search.SearchView.as_view(), name="search"),
    path("mein-traeger/", provider_view.MyProviderView.as_view(), name="my-provider"),
    path("", include("core.urls")),
    path("raeume/<str:code>/profil/", profile.RegionProfileView.as_view(), name="region-profile"),
    path("raeume/", include("regions.urls")),
    path("organisationen/", include("cooperation.urls")),
    path("angebotsfinder/", include("cooperation.urls_directory")),
    path("kooperation/", include("cooperation.urls_cooperation")),
    path("benachrichtigungen/", include("core.urls_notifications")),
    path("budgets/", include("budgets.urls")),
    path("api-zugaenge/", include("cooperation.urls_tokens")),
    path("api/hsds/", include("cooperation.hsds.urls")),
    # Namespaced so that API route names (region-list, …) never shadow the pages'.
    path("api/v1/", include((api.router.urls, "api"))),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
