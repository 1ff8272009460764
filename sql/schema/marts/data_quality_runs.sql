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
