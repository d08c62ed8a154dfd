"""Practice schemas, made fast and kept current (issue 14).

A new practice's schema is never built by replaying the migration graph in the request:

- a *recipe* (the SQL a real migration run sends, recorded once per migration state and checked
  against a migrated schema) builds a schema in one round trip (`recipe.py`);
- a small pool of *spare* schemas, built from the recipe in the background, is claimed by a
  signup with a rename inside its transaction (`services.py`, `tasks.py`);
- `manage.py migrate_practices` migrates only the schemas that are behind, found with one
  catalogue query, in parallel worker processes (`runner.py`).

The one entry point for the rest of the project is `services.practice_schema_provide`.
"""
