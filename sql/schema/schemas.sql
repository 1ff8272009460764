-- The warehouse layers: raw (as landed) -> staging (typed, cleaned) -> ml -> marts (BI), + audit.
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists ml;
create schema if not exists marts;
create schema if not exists audit;
