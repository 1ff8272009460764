create or replace view marts.profile_segmentation_metrics as
select run_id, algorithm, k, inertia, silhouette, davies_bouldin, calinski_harabasz, is_elbow,
       is_best_silhouette, is_chosen, noise_share, eps, min_samples, fitted_on, as_of_date
  from published.profile_segmentation_metrics
 where run_id = (select run_id from published.current_runs where mart = 'profile_segmentation_metrics');
comment on view marts.profile_segmentation_metrics is
    'Model selection curves of the customer_personality segmentation: one row per algorithm per k (latest published run).';
comment on column marts.profile_segmentation_metrics.run_id is 'segment_customers DAG run (one row per algorithm per k per run).';
comment on column marts.profile_segmentation_metrics.algorithm is 'kmeans, agglomerative (Ward) or dbscan (k = clusters DBSCAN found).';
comment on column marts.profile_segmentation_metrics.k is 'Number of clusters; one row per algorithm and k.';
comment on column marts.profile_segmentation_metrics.inertia is 'Within-cluster sum of squared distances in scaled feature space.';
comment on column marts.profile_segmentation_metrics.silhouette is 'Mean silhouette (-1..1), on a sample; DBSCAN: noise left out.';
comment on column marts.profile_segmentation_metrics.davies_bouldin is 'Davies-Bouldin index (lower = better).';
comment on column marts.profile_segmentation_metrics.calinski_harabasz is 'Calinski-Harabasz index (higher = better).';
comment on column marts.profile_segmentation_metrics.is_elbow is 'True for the k at the elbow of the inertia curve.';
comment on column marts.profile_segmentation_metrics.is_best_silhouette is 'True for the k with the highest silhouette of the algorithm.';
comment on column marts.profile_segmentation_metrics.is_chosen is 'True for the k used for the segments (best silhouette within elbow +- 1).';
comment on column marts.profile_segmentation_metrics.noise_share is 'DBSCAN only: share of customers marked as noise.';
comment on column marts.profile_segmentation_metrics.eps is 'DBSCAN only: eps, the knee of the k-distance curve.';
comment on column marts.profile_segmentation_metrics.min_samples is 'DBSCAN only: min_samples (2 x number of features).';
comment on column marts.profile_segmentation_metrics.fitted_on is 'Customers the model was fitted on (a sample when large).';
comment on column marts.profile_segmentation_metrics.as_of_date is 'Date the features are computed as of.';
