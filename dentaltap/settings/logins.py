"""Accounts and logins, client addresses and rate limits: a part of the shared settings
(`dentaltap/settings/base.py` imports it; it reads only the environment)."""

import datetime

from dentaltap.env import env_int

# --------------------------------------------------------------------------- accounts and logins

AUTH_USER_MODEL = "tenants.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "practice-switcher"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A reset link works for an hour (and only until it is used: the token dies with the password).
PASSWORD_RESET_TIMEOUT = env_int("DENTALTAP_PASSWORD_RESET_TIMEOUT_SECONDS", 3600)

# Brute-force protection (django-axes, attempts in the database): see dentaltap/login_protection.py.
# Axes' backend goes first and refuses a paused login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# A few failures pause one account from one address; only many pause the address itself, which a
# whole clinic shares. The test suite keeps these values: each test starts with no attempts
# (they live in the database, rolled back or flushed per test) and force_login is not a failure.
LOGIN_FAILURE_LIMIT_PER_ACCOUNT_AND_IP = env_int("DENTALTAP_LOGIN_FAILURE_LIMIT_PER_ACCOUNT_AND_IP", 5)
LOGIN_FAILURE_LIMIT_PER_IP = env_int("DENTALTAP_LOGIN_FAILURE_LIMIT_PER_IP", 50)
AXES_HANDLER = "dentaltap.login_protection.LoginAttemptHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]  # the order of lockout_groups()
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT_PER_ACCOUNT_AND_IP
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("DENTALTAP_LOGIN_COOLOFF_MINUTES", 15))
# Failures while paused are not counted, so the time the login page names holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "dentaltap.login_protection.login_username"
AXES_CLIENT_IP_CALLABLE = "dentaltap.login_protection.login_client_ip"
AXES_LOCKOUT_CALLABLE = "dentaltap.login_protection.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure, for staff (admin: Axes)

# --------------------------------------------------------------------------- client addresses and rate limits

# The client address (dentaltap/ip.py, django-ipware): behind this many reverse proxies (load
# balancer, ingress) the client is the N-th address from the right of X-Forwarded-For; 0 trusts
# no header and uses the connection's address. (The earlier name is still read.)
TRUSTED_PROXY_COUNT = env_int("DENTALTAP_TRUSTED_PROXY_COUNT", env_int("DENTALTAP_RATE_LIMIT_TRUSTED_PROXY_COUNT", 0))

# {scope: {key kind: (attempts, window seconds)}}; counted in Redis, failing open when it is down.
RATE_LIMITS: dict[str, dict[str, tuple[int, int]]] = {
    "invitation_create": {"user": (30, 3600), "ip": (60, 3600)},
    "invitation_accept": {"ip": (30, 3600), "user": (30, 3600)},
    "signup": {"ip": (20, 3600), "email": (5, 3600)},
    # Partner codes typed on the Billing page: enough for typos, far too few to guess one.
    "partner_code": {"ip": (30, 3600), "user": (10, 3600), "practice": (10, 3600)},
    # At most a few reset emails an hour to one mailbox, whoever asks, and a few dozen requests
    # from one address (a clinic shares one).
    "password_reset": {"ip": (30, 3600), "email": (3, 3600)},
}
