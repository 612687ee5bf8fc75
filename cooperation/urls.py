"""Pages of organisations and offerings, below ``/organisationen/``."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.OrganizationListView.as_view(), name="organization-list"),
    path("neu/", views.OrganizationEditView.as_view(), name="organization-create"),
    path("meine-angebote/", views.MyServicesView.as_view(), name="my-services"),
    path("angebote/neu/", views.ServiceEditView.as_view(), name="service-create"),
    path("angebote/zu-bestaetigen/", views.ServicesUnconfirmedView.as_view(), name="services-unconfirmed"),
    path("angebote/bestaetigen/", views.ServicesConfirmView.as_view(), name="services-confirm"),
    path("angebote/<uuid:uuid>/", views.ServiceDetailView.as_view(), name="service-detail"),
    path("angebote/<uuid:uuid>/bearbeiten/", views.ServiceEditView.as_view(), name="service-update"),
    path("angebote/<uuid:uuid>/duplizieren/", views.ServiceDuplicateView.as_view(), name="service-duplicate"),
    path("angebote/<uuid:uuid>/schliessen/", views.ServiceCloseView.as_view(), name="service-close"),
    path("angebote/<uuid:uuid>/bestaetigen/", views.ServiceConfirmView.as_view(), name="service-confirm"),
    path("angebote/<uuid:uuid>/freie-plaetze/", views.ServiceFreePlacesView.as_view(), name="service-free-places"),
    path("angebote/<uuid:uuid>/loeschen/", views.ServiceDeleteView.as_view(), name="service-delete"),
    path("standorte/<uuid:uuid>/bearbeiten/", views.LocationEditView.as_view(), name="location-update"),
    path("standorte/<uuid:uuid>/loeschen/", views.LocationDeleteView.as_view(), name="location-delete"),
    path("<uuid:uuid>/", views.OrganizationDetailView.as_view(), name="organization-detail"),
    path("<uuid:uuid>/bearbeiten/", views.OrganizationEditView.as_view(), name="organization-update"),
    path("<uuid:uuid>/mitglieder/", views.MembershipCreateView.as_view(), name="membership-create"),
    path("<uuid:uuid>/mitglieder/<int:pk>/", views.MembershipUpdateView.as_view(), name="membership-update"),
    path("<uuid:uuid>/mitglieder/<int:pk>/entfernen/", views.MembershipDeleteView.as_view(),
         name="membership-delete"),
]
