from django.contrib.auth import views as auth_views
from django.urls import path

from csplatform.ui import views
from csplatform.ui.forms import EmailLoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("workspaces/", views.tenant_switcher, name="tenant_switcher"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=EmailLoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
