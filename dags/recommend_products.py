"""
## Recommend products

Product similarity, frequently-bought-together pairs and two lists per customer (`discover`,
`buy_again`), scored offline on a time split every run. Scheduled on `customer_segments` (the
segment popularity reads `marts.customer_segments`; without it, global popularity is used).

1. **prepare_interactions**: `ml.customer_product_interactions` (customer x product x day) from
   `staging.order_lines`, rebuilt in one transaction.
2. **plan_product_blocks**, **plan_customer_blocks**: cut the products and the customers into
   blocks of their keys (`MAPPED_PRODUCTS_PER_TASK`, `MAPPED_CUSTOMERS_PER_TASK`; XCom: the key
   bounds only). The
   defaults make Online Retail one block each; smaller blocks spread the two mapped steps below
   over the workers (each block's task refits what it needs, so a block should stay large).
3. **build_similarity** (mapped over the product blocks): top-k (Param `top_k`) most similar
   products per product of the block by TF-IDF of the descriptions (`content`) and by the
   customers who bought them (`co_purchase`), against the whole catalogue: sparse cosine in
   blocks of products, never a products x products matrix. Written for this run, not yet
   visible; each block replaces its products' rows.
4. **build_pairs**: the pairs bought on the same invoices (support, confidence, lift), beside
   the similarity.
5. **evaluate**: test = the last `test_window_days` days, validation = the days before it;
   everything fitted on the data before each window; every method (EASE^R, ALS, RP3beta,
   user/item-kNN, popularity, content, co-purchase, the hybrid) tuned by Optuna on validation
   and scored once on test, with bootstrap intervals against the hybrid. Too short a history:
   rows marked `not_evaluated`, the lists still follow.
6. **build_recommendations** (mapped over the customer blocks): fit on all data; `per_list`
   products per list and customer of the block (the tuned hybrids); customers without purchases
   get their segment's (or global) popularity. Each block replaces its customers' rows.
7. **publish_recommendations**: checks that the blocks add up to the run's rows, audits the
   four marts (rows, unique keys, a list for every customer, hybrids scored) and stages them;
   `publish_marts` switches `marts.product_similarity`, `product_pairs`,
   `customer_recommendations` and `recommendation_metrics` on with the rest of the pipeline;
   emits `product_recommendations`.

Rerunning is safe: every task replaces its run's rows (a mapped task: its block's rows); BI
sees the previous run until `publish_marts`.
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
    def plan_product_blocks() -> list[dict]:
        """Reads staging.products; returns the product blocks of build_similarity (key bounds)."""
        from include.tasks import recommend_products

        return recommend_products.plan_blocks("products")

    @task
    def plan_customer_blocks() -> list[dict]:
        """Reads staging.customers and the interactions; returns the customer blocks of
        build_recommendations (key bounds)."""
        from include.tasks import recommend_products

        return recommend_products.plan_blocks("customers")

    @task(map_index_template="{{ block_label }}")
    def build_similarity(block: dict) -> dict:
        """Writes the block's rows of published.product_similarity of this run."""
        from include.tasks import recommend_products

        context = get_current_context()
        context["block_label"] = recommend_products.block_label(block)
        with bad_input_fails_task():
            return recommend_products.build_similarity(context["run_id"], context["params"]["top_k"], block)

    @task
    def build_pairs() -> dict:
        """Writes this run's rows of published.product_pairs."""
        from include.tasks import recommend_products

        with bad_input_fails_task():
            return recommend_products.build_pairs(get_current_context()["run_id"])

    @task
    def evaluate() -> dict:
        """Writes this run's rows of published.recommendation_metrics; returns the tuned weights."""
        from include.tasks import recommend_products

        context = get_current_context()
        params = context["params"]
        with bad_input_fails_task():
            return recommend_products.evaluate(context["run_id"], params["test_window_days"], params["top_k"])

    @task(map_index_template="{{ block_label }}")
    def build_recommendations(evaluated: dict, block: dict) -> dict:
        """Writes the block's rows of published.customer_recommendations of this run."""
        from include.tasks import recommend_products

        context = get_current_context()
        context["block_label"] = recommend_products.block_label(block)
        params = context["params"]
        with bad_input_fails_task():
            return recommend_products.build_recommendations(
                context["run_id"], evaluated["weights"], params["per_list"], params["top_k"], block
            )

    @task(outlets=[assets.PRODUCT_RECOMMENDATIONS])
    def publish_recommendations(similar: list[dict], recommended: list[dict]) -> dict:
        """Switches the four recommendation marts to this run; emits product_recommendations."""
        from include.tasks import recommend_products

        with bad_input_fails_task():
            return recommend_products.publish_recommendations(
                # a slice: one request (iterating asks item by item, and logs a 404 past the end)
                get_current_context()["run_id"],
                list(similar[:]),
                list(recommended[:]),
            )

    interactions = prepare_interactions()
    product_blocks, customer_blocks = plan_product_blocks(), plan_customer_blocks()
    similar = build_similarity.expand(block=product_blocks)
    pairs = build_pairs()
    evaluated = evaluate()
    interactions >> [product_blocks, customer_blocks, pairs]
    similar >> evaluated  # one heavy step after the other: evaluate is the longest
    recommended = build_recommendations.partial(evaluated=evaluated).expand(block=customer_blocks)
    pairs >> publish_recommendations(similar, recommended)


recommend_products()
