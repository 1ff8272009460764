create table if not exists published.segmentation_metrics (
    run_id              text             not null,
    algorithm           text             not null,
    k                   integer          not null,
    inertia             double precision,
    silhouette          double precision,
    davies_bouldin      double precision,
    calinski_harabasz   double precision,
    is_elbow            boolean          not null,
    is_best_silhouette  boolean          not null,
    is_chosen           boolean          not null,
    noise_share         double precision,
    eps                 double precision,
    min_samples         integer,
    fitted_on           integer          not null,
    as_of_date          date             not null,
    primary key (run_id, algorithm, k)
);
