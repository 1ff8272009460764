"""
## Recommend products

Product similarity, frequently-bought-together pairs and two lists per customer (`discover`,
`buy_again`), scored offline on a time split every run. Scheduled on `customer_segments` (the
segment popularity reads `marts.customer_segments`; without it, global popularity is used).

1. **prepare_interactions**: `ml.customer_product_interactions` (customer x product x day) from
   `staging.order_lines`, rebuilt in one transaction.
2. **build_similarity**: top-k (Param `top_k`) most similar products per product by TF-IDF of
   the descriptions (`content`) and by the customers who bought them (`co_purchase`): sparse
   cosine in blocks of products, never a products x products matrix; and the pairs bought on
   the same invoices (support, confidence, lift). Written for this run, not yet visible.
3. **evaluate**: test = the last `test_window_days` days, validation = the days before it;
   everything fitted on the data before each window; every method (EASE^R, ALS, RP3beta,
   user/item-kNN, popularity, content, co-purchase, the hybrid) tuned by Optuna on validation
   and scored once on test, with bootstrap intervals against the hybrid. Too short a history:
   rows marked `not_evaluated`, the lists still follow.
4. **build_recommendations**: fit on all data; `per_list` products per list and customer
   (the tuned hybrids); customers without purchases get their segment's (or global) popularity.
5. **publish_recommendations**: audits the four marts (rows, unique keys, hybrids scored) and
   stages them; `publish_marts` switches `marts.product_similarity`, `product_pairs`,
   `customer_recommendations` and `recommendation_metrics` on with the rest of the pipeline;
   emits `product_recommendations`.

Rerunning is safe: every task replaces its run's rows; BI sees the previous run until
`publish_marts`.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from include import assets, config
from include.orchestration import DAG_DEFAULTS, bad_input_fails_task, param


@dag(
    dag_id="recommend_products",
    doc_md=__doc__,
    schedule=[assets.CUSTOMER_SEGMENTS],
    tags=["ecommerce", "ml"],
    params={
        "top_k": param(
            config.TOP_K_SIMILAR, "Similar products kept per product and method.", type="integer", minimum=1
        ),
        "per_list": param(
            config.RECOMMENDATIONS_PER_LIST, "Products per customer list.", type="integer", minimum=1
        ),
        "test_window_days": param(
            config.TEST_WINDOW_DAYS,
            "Offline evaluation: the last N days are the test.",
            type="integer",
            minimum=1,
        ),
    },
    **DAG_DEFAULTS,
)
def recommend_products():
    @task
    def prepare_interactions() -> dict:
        """Writes ml.customer_product_interactions."""
        from include.tasks import recommend_products

        with bad_input_fails_task():
            return recommend_products.prepare_interactions(get_current_context()["run_id"])

    @task
    def build_similarity() -> dict:
        """Writes this run's rows of published.product_similarity and published.product_pairs."""
        from include.tasks import recommend_products

        context = get_current_context()
        with bad_input_fails_task():
            return recommend_products.build_similarity(context["run_id"], context["params"]["top_k"])

    @task
    def evaluate() -> dict:
        """Writes this run's rows of published.recommendation_metrics; returns the tuned weights."""
        from include.tasks import recommend_products

        context = get_current_context()
        params = context["params"]
        with bad_input_fails_task():
            return recommend_products.evaluate(context["run_id"], params["test_window_days"], params["top_k"])

    @task
    def build_recommendations(evaluated: dict) -> dict:
        """Writes this run's rows of published.customer_recommendations."""
        from include.tasks import recommend_products

        context = get_current_context()
        params = context["params"]
        with bad_input_fails_task():
            return recommend_products.build_recommendations(
                context["run_id"], evaluated["weights"], params["per_list"], params["top_k"]
            )

    @task(outlets=[assets.PRODUCT_RECOMMENDATIONS])
    def publish_recommendations() -> dict:
        """Switches the four recommendation marts to this run; emits product_recommendations."""
        from include.tasks import recommend_products

        with bad_input_fails_task():
            return recommend_products.publish_recommendations(get_current_context()["run_id"])

    interactions = prepare_interactions()
    similar = build_similarity()
    evaluated = evaluate()
    interactions >> similar >> evaluated
    build_recommendations(evaluated) >> publish_recommendations()


recommend_products()
