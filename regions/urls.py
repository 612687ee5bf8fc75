from django.urls import path

from . import views

urlpatterns = [
    path("", views.RegionListView.as_view(), name="region-list"),
    path("indikatoren/", views.IndicatorListView.as_view(), name="indicator-list"),
    path("indikatoren/<slug:key>/", views.IndicatorDetailView.as_view(), name="indicator-detail"),
    path("<str:code>/", views.RegionDetailView.as_view(), name="region-detail"),
]
