-- audit.data_quality_results: the result of every expectation of every Great Expectations
-- validation (include/quality/validate.py writes them, raw and staging suites, every layout).
-- Grain: one row per expectation per validation run (a suite on one table in one DAG run).
-- A rerun of the same DAG run (task retry or clear) replaces that run's rows of the suite.
create table if not exists audit.data_quality_results (
    dag_run_id          text          not null,
    load_id             integer,
    stage               text          not null,  -- schema validated: raw or staging
    table_name          text          not null,  -- schema.table
    suite_name          text          not null,
    expectation_index   integer       not null,  -- position in the suite, from 1
    expectation_type    text          not null,
    column_name         text,
    expectation_kwargs  jsonb         not null default '{}'::jsonb,
    description         text,
    severity            text          not null check (severity in ('hard', 'soft')),
    success             boolean       not null,
    element_count       bigint,
    unexpected_count    bigint,
    unexpected_percent  numeric(9, 4),
    observed_value      text,
    exception_message   text,
    validated_at        timestamptz   not null default now(),
    primary key (dag_run_id, suite_name, expectation_index)
);
create index if not exists data_quality_results_load_idx
    on audit.data_quality_results (load_id, validated_at);
