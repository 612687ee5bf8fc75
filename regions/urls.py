from django.urls import path

from . import views

urlpatterns = [
    path("", views.RegionListView.as_view(), name="region-list"),
    path("indikatoren/", views.IndicatorListView.as_view(), name="indicator-list"),
    path("indikatoren/<slug:key>/", views.IndicatorDetailView.as_view(), name="indicator-detail"),
    path("indizes/", views.CompositeIndexListView.as_view(), name="index-list"),
    path("indizes/neu/", views.CompositeIndexEditView.as_view(), name="index-create"),
    path("indizes/<slug:key>/", views.CompositeIndexDetailView.as_view(), name="index-detail"),
    path("indizes/<slug:key>/bearbeiten/", views.CompositeIndexEditView.as_view(), name="index-edit"),
    path("indizes/<slug:key>/berechnen/", views.CompositeIndexComputeView.as_view(), name="index-compute"),
    path("<str:code>/", views.RegionDetailView.as_view(), name="region-detail"),
]
