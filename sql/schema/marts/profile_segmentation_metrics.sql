create or replace view marts.profile_segmentation_metrics as
select run_id, algorithm, k, inertia, silhouette, davies_bouldin, calinski_harabasz, is_elbow,
       is_best_silhouette, is_chosen, noise_share, eps, min_samples, fitted_on, as_of_date
  from published.profile_segmentation_metrics
 where run_id = (select run_id from published.current_runs where mart = 'profile_segmentation_metrics');
