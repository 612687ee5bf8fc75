from django.urls import path

from . import views

urlpatterns = [
    path("", views.BudgetListView.as_view(), name="budget-list"),
    path("<int:pk>/", views.BudgetDetailView.as_view(), name="budget-detail"),
    path("<int:pk>/wie-wird-gerechnet/", views.BudgetExplanationView.as_view(), name="budget-explanation"),
    path("<int:pk>/neu-berechnen/", views.BudgetRecomputeView.as_view(), name="budget-recompute"),
    path("<int:pk>/berechnungen/<int:run_pk>/beschliessen/", views.BudgetAdoptView.as_view(), name="budget-adopt"),
    path("<int:pk>/export.csv", views.BudgetCsvExportView.as_view(), name="budget-export-csv"),
    path("<int:pk>/export.xlsx", views.BudgetXlsxExportView.as_view(), name="budget-export-xlsx"),
    path("<int:pk>/fiscal-data-package.zip", views.BudgetFiscalDataPackageView.as_view(),
         name="budget-export-fdp"),
]
