from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from captchala_django.admin_login import protect_admin_login
from captchala_django.conf import app_settings
from demo import dynamic, views
from demo.forms import LoginForm

# The admin login is a login form like any other: it takes the check too.
protect_admin_login(admin.site)

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(form_class=LoginForm, template_name="demo/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("password-reset/", views.ResetView.as_view(), name="password_reset"),
    path(
        "password-reset/done/",
        auth_views.PasswordResetDoneView.as_view(template_name="demo/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(template_name="demo/form_page.html"),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="demo/message.html"),
        name="password_reset_complete",
    ),
    path("transfer/", views.transfer, name="transfer"),
    path("async-transfer/", views.async_transfer, name="async-transfer"),
    path("htmx/", dynamic.htmx_page, name="htmx"),
    path("htmx/transfer/", dynamic.htmx_transfer, name="htmx-transfer"),
    path("htmx/comment/", dynamic.htmx_comment, name="htmx-comment"),
    path("spa/", dynamic.spa_page, name="spa"),
    path("spa/transfer/", dynamic.spa_transfer, name="spa-transfer"),
    path("admin/", admin.site.urls),
    path("captchala/", include("captchala_django.urls")),
]

# The sandbox's URLs answer 404 unless the sandbox is on (with DEBUG on): the demo also
# leaves its panel out then. app_settings reads the setting, else the environment.
if app_settings.SANDBOX:
    urlpatterns += [
        path("captchala-sandbox/", include("captchala_django.sandbox.urls")),
        path("sandbox/", views.sandbox_panel, name="sandbox-panel"),
    ]

try:
    from demo import api
except ImportError:  # Django REST framework is not installed: no API endpoints
    pass
else:
    urlpatterns += [
        path("api/transfer/", api.TransferAPI.as_view(), name="api-transfer"),
        path("api/comments/", api.CommentAPI.as_view(), name="api-comments"),
    ]

try:
    from captchala_django.contrib.prometheus import metrics_view
except ImportError:  # prometheus-client is not installed: no metrics endpoint
    pass
else:
    # Only in development, or where only the scraper reaches the server (DEMO_METRICS: the
    # soak's): the metrics name routes and counts, and show a bot how its tokens fare.
    if settings.DEBUG or settings.DEMO_METRICS:
        urlpatterns += [path("metrics/", metrics_view, name="metrics")]
