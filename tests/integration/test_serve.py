"""The recommendation API and the report page against a real PostgreSQL: the real DAGs publish the
shipped sample, the app (a real uvicorn server in this process) loads the published marts, and
every answer is compared with the marts. Last, a publication switch under load: another run is
published while requests flow, and no request fails or mixes the two runs."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import Counter
from urllib.parse import quote

import httpx
import pytest

from include import config
from include.serve import basket
from tests.serve_support import wait_until_healthy
from tools import runtime
from tools.cli import PIPELINE

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def published(warehouse):
    """The sample through the whole pipeline (the tests' DAG runner): {dag_id: run_id}."""
    runs = {}
    for dag_id in PIPELINE:
        conf = {"source": str(config.SAMPLE_SOURCE)} if dag_id == "ingest_ecommerce" else {}
        run = runtime.run_dag(dag_id, conf)
        assert run.state == "success", dag_id
        runs[dag_id] = run.run_id
    return runs


@pytest.fixture(scope="module")
def server(published, warehouse):
    """The app on a real uvicorn server in a thread, its store polling every 0.3 s."""
    import uvicorn

    from include.serve.app import create_app
    from include.serve.store import Store

    app = create_app(Store(uri=warehouse, poll_seconds=0.3))
    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    if not wait_until_healthy(base, seconds=60, interval=0.2):
        pytest.fail(f"the API did not load the published marts within 60 s: {app.state.store.last_error}")
    try:
        yield base
    finally:
        uv.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="module")
def token(server) -> str:
    from include.serve.auth import mint_token

    return mint_token()


@pytest.fixture(scope="module")
def client(server, token):
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        yield http


def rows(db, query: str, params=()) -> list[tuple]:
    return db.execute(query, params).fetchall()


# --- health and login -------------------------------------------------------------------------


def test_health_names_the_published_runs_and_rows_without_login(server, published, db):
    answer = httpx.get(f"{server}/health")
    assert answer.status_code == 200
    health = answer.json()
    assert health["status"] == "ok"
    assert health["run_id"] == published["recommend_products"]
    assert health["segmentation_run_id"] == published["segment_customers"]
    for mart in ("customer_recommendations", "product_similarity", "customer_segments"):
        assert health["rows"][mart] == db.execute(f"select count(*) from marts.{mart}").fetchone()[0], mart
    assert health["age_seconds"] >= 0 and health["rows_loaded"] == sum(health["rows"].values())


ENDPOINTS = [
    ("GET", "/customers/12347/recommendations", None),
    ("GET", "/customers/12347/segment", None),
    ("GET", "/products/85123A/similar", None),
    ("GET", "/products/85123A/bought-together", None),
    ("POST", "/recommendations", {"product_ids": ["85123A"]}),
    ("POST", "/segments/score", {"recency_days": 1}),
    ("GET", "/report", None),
    ("GET", "/docs/runbook.md", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_but_health_needs_the_login(server, method, path, body):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        answer = httpx.request(method, f"{server}{path}", json=body, headers=headers)
        assert answer.status_code == 401, (path, headers, answer.text)
    answer = httpx.request(method, f"{server}{path}", json=body, cookies={"_token": "not-a-token"})
    assert answer.status_code == 401


def test_the_ui_cookie_is_a_login_too(server, token):
    answer = httpx.get(f"{server}/customers/12347/segment", cookies={"_token": token})
    assert answer.status_code in (200, 404)  # authenticated (the sample may not hold 12347)


# --- recommendations --------------------------------------------------------------------------


def a_customer(db, list_type: str = "discover") -> int:
    return db.execute(
        "select customer_id from marts.customer_recommendations where list_type = %s and not is_cold_start"
        " group by 1 having count(*) >= 5 order by 1 limit 1",
        (list_type,),
    ).fetchone()[0]


@pytest.mark.parametrize("list_type", ["discover", "buy_again"])
def test_a_customers_list_is_the_published_rows(client, db, published, list_type):
    customer = a_customer(db, list_type)
    expected = rows(
        db,
        "select rank, product_id, description, score, reason from marts.customer_recommendations"
        " where customer_id = %s and list_type = %s order by rank",
        (customer, list_type),
    )
    answer = client.get(f"/customers/{customer}/recommendations", params={"list": list_type, "n": 3})
    assert answer.status_code == 200
    body = answer.json()
    assert body["run_id"] == published["recommend_products"]
    assert body["known_customer"] and not body["cold_start"] and body["note"] is None
    got = [(i["rank"], i["product_id"], i["description"], i["score"], i["reason"]) for i in body["items"]]
    assert got == [tuple(r) for r in expected[:3]]


def test_an_unknown_customer_gets_the_cold_start_list_and_says_so(client, db):
    answer = client.get("/customers/987654321/recommendations", params={"n": 5})
    assert answer.status_code == 200
    body = answer.json()
    assert body["known_customer"] is False and body["cold_start"] is True
    assert "987654321" in body["note"] and "cold-start" in body["note"]
    # the best sellers: products on the most invoices (product_pairs.product_invoices)
    best = rows(
        db,
        "select product_id from marts.product_pairs group by 1"
        ' order by max(product_invoices)::float8 / max(total_invoices) desc, product_id collate "C" limit 5',
    )
    assert [i["product_id"] for i in body["items"]] == [r[0] for r in best]
    assert {i["reason"] for i in body["items"]} == {"new customer: a best seller"}


def a_product(db) -> str:
    return db.execute(
        "select product_id from marts.product_pairs group by 1 order by count(*) desc, 1 limit 1"
    ).fetchone()[0]


@pytest.mark.parametrize("method", ["content", "co_purchase"])
def test_similar_products_are_the_published_rows(client, db, method):
    product = a_product(db)
    expected = rows(
        db,
        "select rank, similar_product_id, similar_product_description, score from marts.product_similarity"
        " where product_id = %s and method = %s order by rank limit 4",
        (product, method),
    )
    body = client.get(f"/products/{product}/similar", params={"method": method, "n": 4}).json()
    assert body["method"] == method and body["product_id"] == product
    assert [(i["rank"], i["product_id"], i["description"], i["score"]) for i in body["items"]] == [
        tuple(r) for r in expected
    ]


def test_bought_together_is_the_published_pairs_by_lift(client, db):
    product = a_product(db)
    expected = rows(
        db,
        "select other_product_id, invoices, support, confidence, lift from marts.product_pairs"
        " where product_id = %s order by lift desc, other_product_id limit 5",
        (product,),
    )
    body = client.get(f"/products/{product}/bought-together", params={"n": 5}).json()
    got = [(i["product_id"], i["invoices"], i["support"], i["confidence"], i["lift"]) for i in body["items"]]
    assert got == [tuple(r) for r in expected] and len(got) == 5


def expected_basket(db, product: str, n: int) -> list[str]:
    """A one-product basket worked out from the marts with the weights of include.serve.basket:
    confidence of its PAIRS_PER_PRODUCT most confident pairs + co_purchase cosine + 0.1 x content."""
    scores: Counter = Counter()
    for other, confidence in rows(
        db,
        "select other_product_id, confidence from marts.product_pairs where product_id = %s"
        " order by confidence desc, other_product_id limit %s",
        (product, basket.PAIRS_PER_PRODUCT),
    ):
        scores[other] += confidence * basket.WEIGHTS["pair"]
    for other, method, score in rows(
        db,
        "select similar_product_id, method, score from marts.product_similarity where product_id = %s",
        (product,),
    ):
        scores[other] += score * basket.WEIGHTS[method]
    scores.pop(product, None)
    return [p for p, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))][:n]


def test_the_basket_answer_is_computed_from_the_published_similarity_and_pairs(client, db, published):
    product = a_product(db)
    answer = client.post("/recommendations", json={"product_ids": [product], "n": 8})
    assert answer.status_code == 200
    body = answer.json()
    assert body["run_id"] == published["recommend_products"] and body["basket"] == [product]
    assert [i["product_id"] for i in body["items"]] == expected_basket(db, product, 8)
    assert all(i["because_of"] == product and product in i["reason"] for i in body["items"])

    # the answer changes the moment the basket does; basket and excluded products never appear
    first = body["items"][0]["product_id"]
    other = client.post(
        "/recommendations", json={"product_ids": [product, first], "exclude": [], "n": 8}
    ).json()
    assert [i["product_id"] for i in other["items"]] != [i["product_id"] for i in body["items"]]
    excluded = client.post(
        "/recommendations", json={"product_ids": [product], "exclude": [first], "n": 8}
    ).json()
    shown = {i["product_id"] for i in excluded["items"]} | {i["product_id"] for i in other["items"]}
    assert first not in {i["product_id"] for i in excluded["items"]} and product not in shown


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/products/NO-SUCH-PRODUCT/similar", None),
        ("GET", "/products/NO-SUCH-PRODUCT/bought-together", None),
        ("POST", "/recommendations", {"product_ids": ["85123A", "NO-SUCH-PRODUCT"]}),
    ],
)
def test_an_unknown_product_is_404_naming_it(client, method, path, body):
    answer = client.request(method, path, json=body)
    assert answer.status_code == 404
    assert "NO-SUCH-PRODUCT" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "rule"),
    [
        ("GET", "/customers/12347/recommendations?n=0", None, ["query", "n"], "greater_than_equal"),
        ("GET", "/customers/12347/recommendations?n=101", None, ["query", "n"], "less_than_equal"),
        ("GET", "/customers/12347/recommendations?list=all", None, ["query", "list"], "literal_error"),
        ("GET", "/customers/abc/recommendations", None, ["path", "customer_id"], "int_parsing"),
        ("GET", "/customers/0/segment", None, ["path", "customer_id"], "greater_than_equal"),
        ("GET", "/products/85123A/similar?method=colour", None, ["query", "method"], "literal_error"),
        ("POST", "/recommendations", {"product_ids": []}, ["body", "product_ids"], "too_short"),
        ("POST", "/recommendations", {"product_ids": ["85123A"], "n": "x"}, ["body", "n"], "int_parsing"),
        (
            "POST",
            "/recommendations",
            {"product_ids": ["85123A"], "colour": 1},
            ["body", "colour"],
            "extra_forbidden",
        ),
        ("POST", "/segments/score", {"recency_days": -1}, ["body", "recency_days"], "greater_than_equal"),
    ],
)
def test_bad_parameters_are_422_naming_the_field_and_the_rule(client, method, path, body, field, rule):
    answer = client.request(method, path, json=body)
    assert answer.status_code == 422, answer.text
    assert {"loc": field, "type": rule} in [
        {"loc": e["loc"], "type": e["type"]} for e in answer.json()["detail"]
    ]


# --- segments ---------------------------------------------------------------------------------


FEATURES = (
    "recency_days, frequency, gross_revenue::float8, tenure_days, avg_basket_value::float8,"
    " distinct_products, return_rate::float8, avg_days_between_orders::float8"
)


def test_a_customers_segment_is_the_published_row(client, db, published):
    customer, segment_id, name, outlier = db.execute(
        "select customer_id, segment_id, segment_name, is_outlier from marts.customer_segments"
        " order by customer_id limit 1"
    ).fetchone()
    body = client.get(f"/customers/{customer}/segment").json()
    assert body["run_id"] == published["segment_customers"]
    assert (body["segment_id"], body["segment_name"], body["is_outlier"]) == (segment_id, name, outlier)
    assert body["segment"]["segment_id"] == segment_id and body["segment"]["customers"] > 0
    missing = client.get("/customers/987654321/segment")
    assert missing.status_code == 404 and "987654321" in missing.json()["detail"]


def test_scoring_a_customers_features_gives_their_published_segment(client, db, published):
    names = [n.strip().split("::")[0] for n in FEATURES.split(",")]
    customers = rows(
        db,
        f"select customer_id, segment_id, {FEATURES} from marts.customer_segments order by customer_id limit 25",
    )
    for customer_id, segment_id, *values in customers:
        answer = client.post("/segments/score", json=dict(zip(names, values, strict=True)))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["run_id"] == published["segment_customers"]
        assert body["segment_id"] == segment_id, f"customer {customer_id}"


# --- report page and files --------------------------------------------------------------------


def test_the_report_page_shows_the_latest_run(client, db, published):
    page = client.get("/report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    run_id = published["publish_marts"]
    customers, chosen_k, ndcg = db.execute(
        "select customers_segmented, chosen_k, discover_ndcg_at_10::float8 from marts.pipeline_runs where run_id = %s",
        (run_id,),
    ).fetchone()
    assert run_id in html and f"{customers:,}" in html and f"k = {chosen_k}" in html and f"{ndcg:.4f}" in html
    for (name,) in rows(db, "select segment_name from marts.segment_profiles"):
        assert name in html
    for (method,) in rows(db, "select distinct method from marts.recommendation_metrics"):
        assert method in html
    assert html.count("<svg") == 1 and 'class="hybrid"' in html
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == 4
    for src in images:
        image = client.get(src)
        assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n", src
    docs = re.search(r'href="([^"]+/data-docs/index.html)"', html).group(1)
    assert client.get(docs).status_code == 200 and "<html" in client.get(docs).text.lower()


def test_a_past_run_has_its_page_and_unknown_runs_or_files_are_404(client, published):
    run = quote(published["publish_marts"], safe="")
    assert client.get(f"/report/runs/{run}").status_code == 200
    assert client.get("/report/runs/no-such-run").status_code == 404
    for path in (
        f"/report/runs/{run}/plots/not_a_plot.png",
        f"/report/runs/{run}/plots/..%2F..%2Fmanifest.png",
        f"/report/runs/{run}/data-docs/..%2F..%2F..%2Fpgdata%2Fpostgresql.conf",
        f"/report/runs/{run}/data-docs/%2Fetc%2Fpasswd",
        "/report/runs/no-such-run/plots/pca_scatter.png",
    ):
        assert client.get(path).status_code == 404, path


def test_the_runbook_is_served_with_the_anchors_of_the_failure_links(client):
    from include.orchestration import runbook_url

    page = client.get("/docs/runbook.md")
    assert page.status_code == 200
    anchor = runbook_url("validate_and_clean", "clean").rsplit("#", 1)[1]
    assert f'<a id="{anchor}"></a>' in page.text


def test_a_page_without_login_offers_the_sign_in(server):
    page = httpx.get(f"{server}/report")
    assert page.status_code == 401 and "/auth/login?next=" in page.text


def test_the_openapi_page_lists_every_endpoint(server):
    spec = httpx.get(f"{server}/openapi.json").json()
    assert {
        "/health",
        "/customers/{customer_id}/recommendations",
        "/products/{product_id}/similar",
        "/products/{product_id}/bought-together",
        "/recommendations",
        "/customers/{customer_id}/segment",
        "/segments/score",
    } <= set(spec["paths"])
    assert httpx.get(f"{server}/docs").status_code == 200


def test_answers_have_the_documented_shapes(client, db, server):
    from include.serve import schemas

    customer = a_customer(db)
    product = a_product(db)
    features = dict(
        zip(
            [n.strip().split("::")[0] for n in FEATURES.split(",")],
            db.execute(f"select {FEATURES} from marts.customer_segments limit 1").fetchone(),
            strict=True,
        )
    )
    for model, answer in (
        (schemas.Health, httpx.get(f"{server}/health")),
        (schemas.CustomerRecommendations, client.get(f"/customers/{customer}/recommendations")),
        (schemas.CustomerRecommendations, client.get("/customers/987654321/recommendations")),
        (schemas.SimilarProducts, client.get(f"/products/{product}/similar")),
        (schemas.BoughtTogether, client.get(f"/products/{product}/bought-together")),
        (schemas.BasketRecommendations, client.post("/recommendations", json={"product_ids": [product]})),
        (schemas.CustomerSegment, client.get(f"/customers/{customer}/segment")),
        (schemas.ScoredSegment, client.post("/segments/score", json=features)),
    ):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        model.model_validate(body, strict=False)
        assert set(body) == set(model.model_fields), (model.__name__, set(body) ^ set(model.model_fields))


# --- a publication switch under load (last: it publishes new runs) --------------------------


LOAD = [
    "/customers/{customer}/recommendations?n=10",
    "/customers/{customer}/recommendations?list=buy_again&n=10",
    "/products/{product}/similar?method=co_purchase&n=10",
    "/products/{product}/bought-together?n=10",
    "/customers/{customer}/segment",
    "basket",
]


def test_a_publication_switch_under_load_loses_no_request(server, token, published, dag_runner, db):
    customers = [
        r[0] for r in rows(db, "select customer_id from marts.customer_segments order by 1 limit 200")
    ]
    products = [
        r[0] for r in rows(db, "select product_id from marts.product_pairs group by 1 order by 1 limit 200")
    ]
    answers: list[tuple[str, int, dict | None]] = []
    failures: list[str] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            i = worker
            while not stop.is_set():
                template = LOAD[i % len(LOAD)]
                customer, product = customers[i % len(customers)], products[i % len(products)]
                try:
                    if template == "basket":
                        answer = http.post("/recommendations", json={"product_ids": [product], "n": 10})
                    else:
                        answer = http.get(template.format(customer=customer, product=product))
                except httpx.HTTPError as err:
                    failures.append(f"{template}: {type(err).__name__}: {err}")
                    continue
                answers.append(
                    (template, answer.status_code, answer.json() if answer.status_code == 200 else None)
                )
                i += 4

    threads = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        new = {}
        for dag_id in ("segment_customers", "recommend_products", "publish_marts"):  # BI switches at the end
            run = dag_runner(dag_id, {})
            assert run.state == "success", dag_id
            new[dag_id] = run.run_id
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            health = httpx.get(f"{server}/health").json()
            if health["run_id"] == new["recommend_products"]:
                break
            time.sleep(0.2)
        time.sleep(1)  # requests keep flowing on the new run
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert not failures, failures[:5]
    bad = [(t, s) for t, s, _ in answers if s != 200]
    assert not bad, f"{len(bad)} of {len(answers)} requests failed: {bad[:5]}"
    recommendation_runs = {published["recommend_products"], new["recommend_products"]}
    segmentation_runs = {published["segment_customers"], new["segment_customers"]}
    seen = Counter(body["run_id"] for _, _, body in answers)
    for template, _, body in answers:
        allowed = segmentation_runs if template.endswith("/segment") else recommendation_runs
        assert body["run_id"] in allowed, (template, body["run_id"])
    assert seen[published["recommend_products"]] > 0 and seen[new["recommend_products"]] > 0, seen

    # consistent within a response: a list is exactly its run's rows (both runs stay kept)
    checked = Counter()
    for template, _, body in answers:
        if "/recommendations?" not in template or not body["known_customer"] or body["note"]:
            continue
        if checked[body["run_id"]] >= 50:
            continue
        checked[body["run_id"]] += 1
        expected = rows(
            db,
            "select product_id, score from published.customer_recommendations"
            " where run_id = %s and customer_id = %s and list_type = %s order by rank limit 10",
            (body["run_id"], body["customer_id"], body["list"]),
        )
        assert [(i["product_id"], i["score"]) for i in body["items"]] == [tuple(r) for r in expected]
    assert len(checked) == 2, checked
