"""The team: who may do what in a practice. Memberships, roles and single permissions,
temporary access, suspension, revocation, ownership, leaving, and the append-only access log.

- services.py: every change (locks the practice row, enforces the rules, writes the log);
  membership_create is the one way anyone joins a practice.
- audit.py: the access log (append-only) and RequestMeta, where a change came from.
- rules.py: the rules themselves, shared by the services and the pages that offer changes.
- selectors.py: the Team page's rows and sections, the access log in words.
- views.py, apis.py, forms.py, urls.py: the Team pages and API on practice hosts.

The access check itself ("may this user do X here now") stays in tenants/access.py, the one
place every page and API asks. The models stay in tenants/models.py (no table moved)."""
