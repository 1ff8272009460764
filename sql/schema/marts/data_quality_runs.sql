-- marts.data_quality_runs: the data-quality history for BI, straight from
-- audit.data_quality_results (like marts.pipeline_runs). It shows the validations up to the
-- publication BI sees (audit.pipeline_runs.is_current), so a later load that fails its
-- validation or cleaning leaves this mart as it was, like every other mart; the failed
-- validation appears with the next publication (on-call reads audit.data_quality_results).
create or replace view marts.data_quality_runs as
with snapshot as (
    select max(published_at) as published_at, max(load_id) as load_id
      from audit.pipeline_runs
     where is_current
)

select r.dag_run_id, r.load_id, i.file_name as source_file, i.layout, r.stage, r.table_name,
       r.suite_name, r.expectation_index, r.expectation_type, r.column_name,
       r.expectation_kwargs::text as expectation_kwargs, r.description, r.severity, r.success,
       r.element_count, r.unexpected_count, r.unexpected_percent, r.observed_value,
       r.exception_message, r.validated_at, coalesce(r.load_id = snapshot.load_id, false) as is_current_load
  from audit.data_quality_results r
 cross join snapshot
  left join audit.ingest_runs i on i.load_id = r.load_id
 where r.validated_at <= snapshot.published_at;
comment on view marts.data_quality_runs is
    'Data-quality history: one row per expectation per validation run (a Great Expectations suite on one table in one DAG run of validate_and_clean), every validation up to the publication BI sees.';
comment on column marts.data_quality_runs.dag_run_id is 'DAG run (validate_and_clean) that ran the validation; with suite_name it identifies the validation run.';
comment on column marts.data_quality_runs.load_id is 'Raw load validated (audit.ingest_runs, marts.pipeline_runs.load_id).';
comment on column marts.data_quality_runs.source_file is 'File name of the landed source of the load.';
comment on column marts.data_quality_runs.layout is 'Source layout of the load (online_retail, online_retail_ii, customer_personality).';
comment on column marts.data_quality_runs.stage is 'Layer validated: raw (the landed text, one load) or staging (typed, cleaned).';
comment on column marts.data_quality_runs.table_name is 'Table validated, schema.table.';
comment on column marts.data_quality_runs.suite_name is 'Great Expectations suite (include/quality/suites.py).';
comment on column marts.data_quality_runs.expectation_index is 'Position of the expectation in its suite, from 1.';
comment on column marts.data_quality_runs.expectation_type is 'Expectation, e.g. expect_column_values_to_match_regex or unexpected_rows_expectation.';
comment on column marts.data_quality_runs.column_name is 'Column the expectation checks (comma-separated for compound columns); null for table-level expectations.';
comment on column marts.data_quality_runs.expectation_kwargs is 'The expectation''s arguments as JSON (column, regex, mostly, min_value, the unexpected-rows query, ...).';
comment on column marts.data_quality_runs.description is 'Human description of the rule, where the suite gives one.';
comment on column marts.data_quality_runs.severity is 'hard (a failure fails the task) or soft (a warning: the cleaning rejects the rows concerned, each with its reason).';
comment on column marts.data_quality_runs.success is 'True when the data met the expectation.';
comment on column marts.data_quality_runs.element_count is 'Rows the expectation looked at (column expectations).';
comment on column marts.data_quality_runs.unexpected_count is 'Rows that broke the rule (for unexpected-rows expectations: the rows the query returned).';
comment on column marts.data_quality_runs.unexpected_percent is 'unexpected_count as a percentage of the non-null rows looked at.';
comment on column marts.data_quality_runs.observed_value is 'Observed value for aggregate expectations (e.g. the row count), as text.';
comment on column marts.data_quality_runs.exception_message is 'Error raised while evaluating the expectation (e.g. a missing column), else null.';
comment on column marts.data_quality_runs.validated_at is 'When the validation ran (UTC).';
comment on column marts.data_quality_runs.is_current_load is 'True for the load the published snapshot BI sees was built from.';
