from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import api, health, overview, profile, provider_view, search, views

# The <style> elements Redoc (drf-spectacular-sidecar's redoc.standalone.js) inserts: empty ones that
# styled-components fills through the CSSOM (sha256 of ""), and perfect-scrollbar's fixed stylesheet.
# A new Redoc bundle may change the second: tests/e2e/test_csp_browser.py then reports the blocked
# element with the hash Chromium expects.
REDOC_STYLE_HASHES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
]

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
    # Swagger UI starts from static/js/swagger-ui-init.js (templates/drf_spectacular/swagger_ui.html), not inline.
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Redoc writes its styles into <style> elements at run time, before it could be given a nonce: this one
    # page allows exactly those elements by hash (REDOC_STYLE_HASHES), still no 'unsafe-inline'; its search
    # runs in a worker that Redoc's own script makes from a blob: URL.
    path("api/v1/redoc/", csp_update({"style-src": REDOC_STYLE_HASHES, "worker-src": ["'self'", "blob:"]})(
        SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
