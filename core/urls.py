from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import TemplateView

from . import account_views, privacy_views, views

urlpatterns = [
    path("anmelden/", account_views.LoginView.as_view(), name="login"),
    path("anmelden/code/", account_views.SecondFactorView.as_view(), name="login-second-factor"),
    path("konto/", account_views.AccountView.as_view(), name="account"),
    path("abmelden/", auth_views.LogoutView.as_view(), name="logout"),
    path("barrierefreiheit/", TemplateView.as_view(template_name="core/accessibility.html"), name="accessibility"),
    path("datenschutz/", privacy_views.PrivacyNoticeView.as_view(), name="privacy-notice"),
    path("datenschutz/konten/", privacy_views.AccountListView.as_view(), name="privacy-account-list"),
    path("datenschutz/konten/<int:pk>/export/", privacy_views.AccountExportView.as_view(), name="privacy-account-export"),
    path("datenschutz/konten/<int:pk>/loeschen/", privacy_views.AccountEraseView.as_view(), name="privacy-account-erase"),
    path("importe/", views.ImportRunListView.as_view(), name="import-list"),
    path("importe/neu/", views.ImportCreateView.as_view(), name="import-create"),
    path("importe/<int:pk>/", views.ImportRunDetailView.as_view(), name="import-detail"),
    path("handlungsfelder/", views.FieldOfActionListView.as_view(), name="field-of-action-list"),
    path("handlungsfelder/neu/", views.FieldOfActionCreateView.as_view(), name="field-of-action-create"),
    path("handlungsfelder/<slug:key>/", views.FieldOfActionDetailView.as_view(), name="field-of-action-detail"),
    path("handlungsfelder/<slug:key>/bearbeiten/", views.FieldOfActionUpdateView.as_view(),
         name="field-of-action-update"),
]
