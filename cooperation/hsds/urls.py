"""HSDS 3.0 paths (``/api/hsds/…``). HSDS writes them without a trailing slash;
both forms are answered, the same way (no redirect)."""

from django.urls import re_path

from . import views

app_name = "hsds"

ID = r"(?P<id>[^/]+)"

urlpatterns = [
    re_path(r"^$", views.APIMetaView.as_view(), name="root"),
    re_path(r"^services/?$", views.ServiceListView.as_view(), name="service-list"),
    re_path(rf"^services/{ID}/?$", views.ServiceDetailView.as_view(), name="service-detail"),
    re_path(r"^organizations/?$", views.OrganizationListView.as_view(), name="organization-list"),
    re_path(rf"^organizations/{ID}/?$", views.OrganizationDetailView.as_view(), name="organization-detail"),
    re_path(r"^taxonomies/?$", views.TaxonomyListView.as_view(), name="taxonomy-list"),
    re_path(rf"^taxonomies/{ID}/?$", views.TaxonomyDetailView.as_view(), name="taxonomy-detail"),
    re_path(r"^taxonomy_terms/?$", views.TaxonomyTermListView.as_view(), name="taxonomy-term-list"),
    re_path(rf"^taxonomy_terms/{ID}/?$", views.TaxonomyTermDetailView.as_view(), name="taxonomy-term-detail"),
]
