-- The warehouse layers: raw (as landed) -> staging (typed, cleaned) -> ml -> published (every run's mart rows, by run_id) -> marts (views of the published run: what BI reads), + audit.
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists ml;
create schema if not exists marts;
create schema if not exists audit;
create schema if not exists published;
