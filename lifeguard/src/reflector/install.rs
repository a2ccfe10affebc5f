//! The SQL that makes tables reflectable: a version column stamped on every write, and
//! triggers that `NOTIFY` the reflector after commit with `table|key|version` (never the
//! row: NOTIFY payloads are limited to 8000 bytes, and the queue is shared by the cluster).
//!
//! The SQL reads each table's primary key from `pg_index` when it runs, so one migration
//! file works on any database with those tables. Running it again replaces the functions
//! and triggers with the same ones (it is idempotent).
//!
//! Versions come from one sequence, `lifeguard.row_version`, taken in a `BEFORE INSERT OR
//! UPDATE` trigger. Two writers of the same row are ordered by its row lock, so a row's
//! versions grow in commit order. A delete (or an update that changes the key) notifies the
//! old key with a fresh `nextval` as its tombstone's version, taken after the row's own.
//!
//! Limits: rows present before the install have a NULL version (read as 0) until their
//! next write; a key whose text makes the payload exceed 8000 bytes fails the write; the
//! `lifeguard_version` column is visible to `SELECT *`.

/// The channel the triggers notify and the reflector listens on.
pub const CHANNEL: &str = "lifeguard_reflector";

/// The column holding a row's version.
pub const VERSION_COLUMN: &str = "lifeguard_version";

/// The objects every installed table shares.
const COMMON: &str = r#"-- Lifeguard reflector: shared objects (idempotent).
CREATE SCHEMA IF NOT EXISTS lifeguard;
CREATE SEQUENCE IF NOT EXISTS lifeguard.row_version;

-- One part of a cache key: the column's ::text with '%' and ':' escaped, so that ':' can
-- join the parts of a composite key (the same as lifeguard::cache::codec::escape_part).
CREATE OR REPLACE FUNCTION lifeguard.key_part(part text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT replace(replace(part, '%', '%25'), ':', '%3A') $$;

CREATE OR REPLACE FUNCTION lifeguard.stamp_version() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.lifeguard_version := nextval('lifeguard.row_version');
    RETURN NEW;
END
$$;
"#;

/// One table's version column, notify function and triggers. `{TABLE}` is the table name as
/// given, as a SQL string literal.
const PER_TABLE: &str = r#"
-- Lifeguard reflector: {TABLE_COMMENT}
DO $lifeguard$
DECLARE
    tname constant text := {TABLE};
    rel regclass := to_regclass({TABLE});
    key_new text;
    key_old text;
    key_changed text;
    fn text;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'lifeguard reflector install: table % does not exist', tname;
    END IF;
    SELECT string_agg(format('lifeguard.key_part(NEW.%I::text)', a.attname), ' || '':'' || ' ORDER BY k.ord),
           string_agg(format('lifeguard.key_part(OLD.%I::text)', a.attname), ' || '':'' || ' ORDER BY k.ord),
           string_agg(format('NEW.%1$I IS DISTINCT FROM OLD.%1$I', a.attname), ' OR ' ORDER BY k.ord)
      INTO key_new, key_old, key_changed
      FROM pg_index i
     CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = rel AND i.indisprimary;
    IF key_new IS NULL THEN
        RAISE EXCEPTION 'lifeguard reflector install: table % has no primary key', tname;
    END IF;

    EXECUTE format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS lifeguard_version bigint', rel);

    -- One function per table (named by its oid): the key expression is compiled in.
    fn := format('lifeguard.%I', 'notify_' || rel::oid::text);
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION %1$s() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('lifeguard_reflector', %2$L || '|' || %3$s || '|' || NEW.lifeguard_version);
    ELSIF TG_OP = 'UPDATE' THEN
        IF %5$s THEN
            PERFORM pg_notify('lifeguard_reflector', %2$L || '|' || %4$s || '|' || nextval('lifeguard.row_version'));
        END IF;
        PERFORM pg_notify('lifeguard_reflector', %2$L || '|' || %3$s || '|' || NEW.lifeguard_version);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('lifeguard_reflector', %2$L || '|' || %4$s || '|' || nextval('lifeguard.row_version'));
    ELSE
        PERFORM pg_notify('lifeguard_reflector', %2$L || '|*|' || nextval('lifeguard.row_version'));
    END IF;
    RETURN NULL;
END
$body$$f$, fn, tname, key_new, key_old, key_changed);
    EXECUTE format('COMMENT ON FUNCTION %s() IS %L', fn,
                   'lifeguard reflector notifications of ' || tname);

    EXECUTE format('DROP TRIGGER IF EXISTS lifeguard_version ON %s', rel);
    EXECUTE format('CREATE TRIGGER lifeguard_version BEFORE INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION lifeguard.stamp_version()', rel);
    EXECUTE format('DROP TRIGGER IF EXISTS lifeguard_notify ON %s', rel);
    EXECUTE format('CREATE TRIGGER lifeguard_notify AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION %s()', rel, fn);
    EXECUTE format('DROP TRIGGER IF EXISTS lifeguard_truncate ON %s', rel);
    EXECUTE format('CREATE TRIGGER lifeguard_truncate AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION %s()', rel, fn);
END
$lifeguard$;
"#;

/// The install SQL for `tables` (names as the models' `table = ".."` writes them, optionally
/// schema-qualified): the shared objects, then per table its `lifeguard_version` column, its
/// notify function and its three triggers. Run it as a migration or by hand; re-running it
/// is harmless.
pub fn install_sql<S: AsRef<str>>(tables: &[S]) -> String {
    let mut sql = String::from(COMMON);
    for t in tables {
        let t = t.as_ref();
        let literal = quote_literal(t);
        sql.push_str(
            &PER_TABLE
                .replace("{TABLE_COMMENT}", &t.replace(['\n', '\r'], " "))
                .replace("{TABLE}", &literal),
        );
    }
    sql
}

/// A SQL string literal (standard_conforming_strings: only `'` is doubled).
pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_table_once_as_a_literal() {
        let sql = install_sql(&["film", "o'brien"]);
        assert!(sql.contains("tname constant text := 'film';"));
        assert!(sql.contains("to_regclass('o''brien')"));
        assert_eq!(sql.matches("DO $lifeguard$").count(), 2);
        assert_eq!(sql.matches("CREATE SCHEMA").count(), 1);
    }
}
