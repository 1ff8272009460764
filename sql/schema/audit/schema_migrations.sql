-- audit.schema_migrations: digests of the sql/schema files applied to this database (see
-- include.db.connection.ensure_schema: unchanged files apply nothing, so tasks take no DDL locks).
create table if not exists audit.schema_migrations (
    digest      text        primary key,
    applied_at  timestamptz not null default now()
);
