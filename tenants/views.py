"""Browser pages on the base domain: the landing page and the practice switcher. Signup, login,
logout and password reset are the doors: accounts/views.py."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants import selectors
from tenants.urls_helpers import practice_url


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/home.html")


@login_required
def practice_switcher(request: HttpRequest) -> HttpResponse:
    memberships = selectors.memberships_for_switcher(user=request.user)  # type: ignore[arg-type]
    context: dict[str, Any] = {
        "entries": [
            {"membership": membership, "practice": membership.practice, "url": practice_url(membership.practice)}
            for membership in memberships
        ]
    }
    return render(request, "tenants/switcher.html", context)
