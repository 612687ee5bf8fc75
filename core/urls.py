from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import TemplateView

from . import views

urlpatterns = [
    path("anmelden/", auth_views.LoginView.as_view(template_name="core/login.html"), name="login"),
    path("abmelden/", auth_views.LogoutView.as_view(), name="logout"),
    path("barrierefreiheit/", TemplateView.as_view(template_name="core/accessibility.html"), name="accessibility"),
    path("importe/", views.ImportRunListView.as_view(), name="import-list"),
    path("importe/neu/", views.ImportCreateView.as_view(), name="import-create"),
    path("importe/<int:pk>/", views.ImportRunDetailView.as_view(), name="import-detail"),
    path("handlungsfelder/", views.FieldOfActionListView.as_view(), name="field-of-action-list"),
    path("handlungsfelder/neu/", views.FieldOfActionCreateView.as_view(), name="field-of-action-create"),
    path("handlungsfelder/<slug:key>/", views.FieldOfActionDetailView.as_view(), name="field-of-action-detail"),
    path("handlungsfelder/<slug:key>/bearbeiten/", views.FieldOfActionUpdateView.as_view(),
         name="field-of-action-update"),
]
