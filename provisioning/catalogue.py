"""What a schema is, read from PostgreSQL's catalogue, independent of the schema's name.

`schema_signature` lists every relation, column (with its position, type, nullability,
identity, default and collation), constraint, index, sequence (parameters and current value)
and the migration rows and content types of one schema: two schemas with the same signature are
the same to the application. Definitions that PostgreSQL prints schema-qualified have the
schema's own name taken out, so a schema compares equal to its copy under another name.

`structure_digest` is the cheap form used when a signup claims a spare: only the named tables
are looked at, through the catalogue's indexes (pg_class has no index that starts with the
namespace, so "every relation of a schema" is a scan of all 10,000 practices' relations).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

Row = tuple[str, str, str]

# %(schema)s is the schema's name; %(tables)s a list of table names, or NULL for all relations.
_SIGNATURE_SQL = """
WITH namespace AS (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s),
relation AS (
    SELECT c.oid, c.relname, c.relkind
    FROM pg_class c
    WHERE c.relnamespace = (SELECT oid FROM namespace)
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND (%(tables)s::text[] IS NULL OR c.relname = ANY(%(tables)s::text[]))
),
cleaned AS (SELECT quote_ident(%(schema)s) || '.' AS prefix)
SELECT 'relation', r.relname, r.relkind::text FROM relation r
UNION ALL
SELECT 'column', r.relname || '.' || lpad(a.attnum::text, 4, '0') || '.' || a.attname,
       concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                 CASE WHEN a.attnotnull THEN 'not null' END,
                 CASE WHEN a.attidentity <> '' THEN 'identity ' || a.attidentity::text END,
                 CASE WHEN a.attgenerated <> '' THEN 'generated ' || a.attgenerated::text END,
                 CASE WHEN a.attisdropped THEN 'dropped' END,
                 'collation ' || (SELECT collname FROM pg_collation WHERE oid = a.attcollation),
                 'default ' || replace(pg_get_expr(d.adbin, d.adrelid), (SELECT prefix FROM cleaned), ''))
FROM relation r
JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
UNION ALL
SELECT 'constraint', r.relname || '.' || con.conname,
       con.contype::text || ' ' || replace(pg_get_constraintdef(con.oid), (SELECT prefix FROM cleaned), '')
       || CASE WHEN con.condeferrable THEN ' deferrable' ELSE '' END
       || CASE WHEN con.condeferred THEN ' initially deferred' ELSE '' END
FROM relation r JOIN pg_constraint con ON con.conrelid = r.oid
UNION ALL
SELECT 'index', r.relname || '.' || i.relname,
       replace(pg_get_indexdef(i.oid), (SELECT prefix FROM cleaned), '')
FROM relation r JOIN pg_index x ON x.indrelid = r.oid JOIN pg_class i ON i.oid = x.indexrelid
UNION ALL
SELECT 'sequence', r.relname,
       concat_ws(' ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
                 s.seqcycle, 'owned by ' || (
                    SELECT t.relname || '.' || a.attname FROM pg_depend dep
                    JOIN pg_class t ON t.oid = dep.refobjid
                    JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
                    WHERE dep.classid = 'pg_class'::regclass AND dep.objid = r.oid AND dep.deptype IN ('a', 'i')
                 ), 'last ' || coalesce(pg_sequence_last_value(r.oid)::text, 'unused'))
FROM relation r JOIN pg_sequence s ON s.seqrelid = r.oid
"""


def schema_signature(schema: str) -> list[Row]:
    """Everything about one schema that the application depends on, sorted (see module doc)."""
    with connection.cursor() as cursor:
        cursor.execute(_SIGNATURE_SQL, {"schema": schema, "tables": None})
        rows: list[Row] = [tuple(row) for row in cursor.fetchall()]  # type: ignore[misc]
        for table, columns, order in (
            ("django_migrations", "app || '.' || name", "id"),
            ("django_content_type", "app_label || '.' || model", "id"),
        ):
            cursor.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL", [schema, table])
            if cursor.fetchone()[0]:
                cursor.execute(f'SELECT id, {columns} FROM "{schema}"."{table}" ORDER BY {order}')  # noqa: S608
                rows += [("row", f"{table}.{number}", value) for number, value in cursor.fetchall()]
    return sorted(rows)


# The claim's check: names, positions and types only (no pg_get_*def pretty-printing, which is
# most of the full signature's cost), found from the table names through catalogue indexes.
_STRUCTURE_SQL = """
WITH relation AS (
    SELECT c.oid, c.relname FROM pg_class c
    WHERE c.relname = ANY(%(tables)s::text[]) AND c.relkind = 'r'
      AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s)
)
SELECT md5(string_agg(line, E'\\n' ORDER BY line COLLATE "C")) FROM (
    SELECT concat_ws(' ', 'column', r.relname, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull,
                     a.attidentity, a.attisdropped) AS line
    FROM relation r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0
    UNION ALL
    SELECT concat_ws(' ', 'constraint', r.relname, con.conname, con.contype, con.conkey::text, con.confkey::text)
    FROM relation r JOIN pg_constraint con ON con.conrelid = r.oid
    UNION ALL
    SELECT concat_ws(' ', 'index', r.relname, i.relname, x.indisunique, x.indkey::text)
    FROM relation r JOIN pg_index x ON x.indrelid = r.oid JOIN pg_class i ON i.oid = x.indexrelid
) AS lines
"""


def structure_digest(schema: str, tables: Sequence[str]) -> str | None:
    """md5 of the named tables' columns, constraints and indexes in `schema` (one indexed
    query), or None when neither the schema nor the tables exist."""
    with connection.cursor() as cursor:
        cursor.execute(_STRUCTURE_SQL, {"schema": schema, "tables": list(tables)})
        return cursor.fetchone()[0]
