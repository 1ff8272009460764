-- ml.segmentation_runs: what a run chose and where its models and plots are.
-- Grain: one row per segment_customers run and population.
create table if not exists ml.segmentation_runs (
    run_id                  text          not null,
    population              text          not null,
    as_of_date              date          not null,
    algorithm               text          not null,
    customers               integer       not null,
    features                text[]        not null,
    chosen_k                integer       not null,
    elbow_k                 integer       not null,
    best_silhouette_k       integer       not null,
    silhouette              numeric(8, 4),
    pca_explained_variance  numeric(8, 4)[] not null,
    dbscan_eps              numeric(12, 6),
    dbscan_min_samples      integer,
    dbscan_clusters         integer,
    dbscan_noise_share      numeric(8, 4),
    model_dir               text          not null,
    plots                   jsonb         not null default '{}'::jsonb,
    fitted_at               timestamptz   not null default now(),
    primary key (run_id, population)
);
