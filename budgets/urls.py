from django.urls import path

from . import comparison_views, expenditure_views, provider_views, views

urlpatterns = [
    path("", views.BudgetListView.as_view(), name="budget-list"),
    path("traegerbudget/", provider_views.MyProviderBudgetView.as_view(), name="my-provider-budget"),
    path("<int:pk>/", views.BudgetDetailView.as_view(), name="budget-detail"),
    path("<int:pk>/traegerbudgets/", provider_views.BudgetProvidersView.as_view(), name="budget-providers"),
    path("<int:pk>/traegerbudgets/anteile/", provider_views.ProviderShareCreateView.as_view(),
         name="budget-provider-share-create"),
    path("<int:pk>/traegerbudgets/anteile/<int:share_pk>/loeschen/", provider_views.ProviderShareDeleteView.as_view(),
         name="budget-provider-share-delete"),
    path("<int:pk>/wie-wird-gerechnet/", views.BudgetExplanationView.as_view(), name="budget-explanation"),
    path("<int:pk>/neu-berechnen/", views.BudgetRecomputeView.as_view(), name="budget-recompute"),
    path("<int:pk>/berechnungen/stand/", views.BudgetRunStatusView.as_view(), name="budget-run-status"),
    path("<int:pk>/berechnungen/<int:run_pk>/beschliessen/", views.BudgetAdoptView.as_view(), name="budget-adopt"),
    path("<int:pk>/export.csv", views.BudgetCsvExportView.as_view(), name="budget-export-csv"),
    path("<int:pk>/export.xlsx", views.BudgetXlsxExportView.as_view(), name="budget-export-xlsx"),
    path("<int:pk>/fiscal-data-package.zip", views.BudgetFiscalDataPackageView.as_view(),
         name="budget-export-fdp"),
    path("<int:pk>/vergleich/", comparison_views.BudgetCompareView.as_view(), name="budget-compare"),
    path("<int:pk>/was-waere-wenn/", comparison_views.BudgetWhatIfView.as_view(), name="budget-what-if"),
    path("<int:pk>/ausgaben/", expenditure_views.ExpenditureListView.as_view(), name="budget-expenditures"),
    path("<int:pk>/ausgaben/neu/", expenditure_views.ExpenditureCreateView.as_view(),
         name="budget-expenditure-create"),
    path("<int:pk>/ausgaben/import/", expenditure_views.ExpenditureImportView.as_view(),
         name="budget-expenditure-import"),
    path("<int:pk>/ausgaben/<int:expenditure_pk>/bearbeiten/", expenditure_views.ExpenditureUpdateView.as_view(),
         name="budget-expenditure-update"),
    path("<int:pk>/ausgaben/<int:expenditure_pk>/loeschen/", expenditure_views.ExpenditureDeleteView.as_view(),
         name="budget-expenditure-delete"),
    path("<int:pk>/auslastung/", expenditure_views.BudgetUtilisationView.as_view(), name="budget-utilisation"),
]
