"""The API: REST framework and the OpenAPI schema. A part of the shared settings
(`dentaltap/settings/base.py` imports it)."""

# --------------------------------------------------------------------------- API

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: a request without credentials gets 401 with WWW-Authenticate.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: every endpoint needs a login and, on a practice host, a membership.
    "DEFAULT_PERMISSION_CLASSES": ["tenants.access.IsPracticeMember"],
    # The schema documents the error shape and every error status (dentaltap/schema.py).
    "DEFAULT_SCHEMA_CLASS": "dentaltap.schema.DentalTapAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "dentaltap.pagination.PageNumberPaginationChecked",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "dentaltap.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DentalTap API",
    "DESCRIPTION": "Practice workspace API. Each practice is served on its own host.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["tenants.access.SchemaAccess"],
    # Swagger UI served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The API's documented bodies are JSON (forms are accepted, with HTML's rule that a missing
    # checkbox is false, for the browsable pages' sake; clients send JSON).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # One name per choice set, however many fields use it.
    "ENUM_NAME_OVERRIDES": {"Role": "tenants.models.Role", "Permission": "tenants.models.PermissionCode"},
}
