from django.contrib import admin
from django.contrib.auth.views import LoginView, PasswordResetConfirmView
from django.urls import include, path

from tests import formset_views, views
from tests.forms import LoginForm, ResetForm, StepUpLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("secure-admin/", views.secure_admin.urls),
    path("captchala-sandbox/", include("captchala_django.sandbox.urls")),
    path("captchala/", include("captchala_django.urls")),
    path("atomic/verify/", views.verify_then_maybe_fail, name="atomic-verify"),
    path("login/", LoginView.as_view(form_class=LoginForm), name="login"),
    path("login-step-up/", LoginView.as_view(form_class=StepUpLoginForm), name="login-step-up"),
    path("signup/", views.signup, name="signup"),
    path("reset/", views.ResetView.as_view(form_class=ResetForm), name="reset"),
    path(
        "reset/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("transfer/", views.transfer, name="transfer"),
    path("formset/", formset_views.formset, name="formset"),
    path("pair/", formset_views.pair, name="pair"),
    path("statement/", views.statement, name="statement"),
    path("async-transfer/", views.async_transfer, name="async-transfer"),
    path("decorated/", views.DecoratedView.as_view(), name="decorated"),
    path("mixin/", views.MixinView.as_view(), name="mixin"),
    path("plain/", views.plain, name="plain"),
    path("guarded-plain/", views.guarded_plain, name="guarded-plain"),
    path("page/", views.page, name="page"),
    path("guarded-page/", views.guarded_page, name="guarded-page"),
    path("typical-page/", views.typical_page, name="typical-page"),
    path("guarded-typical-page/", views.guarded_typical_page, name="guarded-typical-page"),
    path("reads-outcome/", views.reads_outcome, name="reads-outcome"),
    path("pay/", views.pay, name="pay"),
    path("async-mixin/", views.AsyncMixinView.as_view(), name="async-mixin"),
]

try:
    from tests import drf_views
except ImportError:  # Django REST framework is not installed in this run
    pass
else:
    urlpatterns += [
        path("api/comments/", drf_views.CommentView.as_view(), name="api-comments"),
        path("api/transfer/", drf_views.TransferView.as_view(), name="api-transfer"),
        path("api/bulk-notes/", drf_views.BulkNotesView.as_view(), name="api-bulk-notes"),
        path("api/edit-note/", drf_views.EditNoteView.as_view(), name="api-edit-note"),
        path("api/nested/<str:shape>/", drf_views.NestedItemsView.as_view(), name="api-nested"),
    ]
