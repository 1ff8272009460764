"""The recommendation API and the run report page: one FastAPI app.

Mounted in the Airflow api-server at /recommendations by plugins/recommendations.py, and run
alone by `make serve` (`run`). Every answer comes from one in-memory snapshot of the published
marts (include.serve.store), taken once per request; every endpoint but /health (and the
OpenAPI page) needs the Airflow login (include.serve.auth).
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from include import config
from include.serve import basket, render, schemas
from include.serve.auth import COOKIE, NotAuthenticated, TokenCache
from include.serve.store import MAX_N, Snapshot, Store, envelope, with_run

log = logging.getLogger(__name__)

DESCRIPTION = """Product recommendations and customer segments of the latest published pipeline run.

Authenticate with the Airflow login: `POST /auth/token` on the Airflow api-server with
`{"username": ..., "password": ...}` returns `access_token`; send it as
`Authorization: Bearer <token>` (a browser signed in to the Airflow UI sends its cookie).
Every answer names the `run_id` whose marts it was computed from.
"""

bearer = HTTPBearer(auto_error=False, description="The JWT of the Airflow api-server's POST /auth/token.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
ProductIdPath = Annotated[str, Path(min_length=1, max_length=64, description="Stock code, e.g. 85123A.")]
CustomerIdPath = Annotated[int, Path(ge=1, description="Customer id, e.g. 12347.")]
N = Annotated[int, Query(ge=1, le=MAX_N, description=f"How many items, 1-{MAX_N}.")]


class LoginRequired(Exception):
    """A page was asked for without a valid login: answered with a sign-in link (401)."""

    def __init__(self, reason: str):
        self.reason = reason


async def require_user(request: Request, credentials: Credentials) -> str:
    """The signed-in Airflow user of an API call; 401 without a valid token."""
    token = credentials.credentials if credentials else request.cookies.get(COOKIE)
    try:
        return await request.app.state.tokens.user(token)
    except NotAuthenticated as err:
        raise HTTPException(
            status_code=401, detail=str(err), headers={"WWW-Authenticate": "Bearer"}
        ) from None


async def require_page_user(request: Request, credentials: Credentials) -> str:
    """The same for a page: without a valid token, a 401 page with a sign-in link."""
    token = credentials.credentials if credentials else request.cookies.get(COOKIE)
    try:
        return await request.app.state.tokens.user(token)
    except NotAuthenticated as err:
        raise LoginRequired(str(err)) from None


User = Annotated[str, Depends(require_user)]
PageUser = Annotated[str, Depends(require_page_user)]


def _json(payload: dict, status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False, default=str).encode()
    return Response(content=body, status_code=status, media_type="application/json")


def _raw(body: bytes) -> Response:
    return Response(content=body, media_type="application/json")


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)


def create_app(store: Store | None = None, tokens: TokenCache | None = None) -> FastAPI:
    """The app; `store` (default: the warehouse's published marts) is polled while it runs."""
    store = store if store is not None else Store()
    tokens = tokens if tokens is not None else TokenCache()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        tokens.warm()  # outside the api-server, building the auth manager imports seconds of Airflow
        store.start()
        try:
            yield
        finally:
            store.stop()

    app = FastAPI(
        title="Segments & recommendations",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.tokens = tokens

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> HTMLResponse:
        mounted = bool(request.scope.get("root_path"))
        api_server = "" if mounted else f"http://127.0.0.1:{config.AIRFLOW_API_PORT}"
        login = f"{api_server}/auth/login?next={quote(str(request.url), safe='')}"
        return HTMLResponse(render.login_page(login, exc.reason), status_code=401)

    def snapshot() -> Snapshot:
        current = store.current()
        if current is None:
            raise HTTPException(
                status_code=503, detail=f"no published run loaded yet: {store.last_error or 'loading'}"
            )
        return current

    def product(snap: Snapshot, product_id: str) -> str:
        description = snap.descriptions.get(product_id)
        if description is None:
            raise _not_found(
                f"unknown product {product_id!r}: not in the catalogue of the published run"
                f" {snap.recommendation_run_id}"
            )
        return description

    # --- health ----------------------------------------------------------------------------

    @app.get("/health", response_model=schemas.Health, tags=["health"])
    async def health() -> Response:
        """The published run answered from, its age and the rows loaded (no login needed)."""
        snap = store.current()
        if snap is None:
            return _json({"status": "waiting", "reloads": store.reloads, "last_error": store.last_error}, 503)
        now = datetime.now(UTC)
        return _json(
            {
                "status": "ok",
                "run_id": snap.recommendation_run_id,
                "segmentation_run_id": snap.segmentation_run_id,
                "runs": snap.runs,
                "published_at": snap.published_at.isoformat(),
                "age_seconds": round((now - snap.published_at).total_seconds(), 1),
                "loaded_at": snap.loaded_at.isoformat(),
                "load_seconds": snap.load_seconds,
                "rows": snap.rows,
                "rows_loaded": sum(snap.rows.values()),
                "reloads": store.reloads,
                "last_error": store.last_error,
            }
        )

    # --- recommendations -------------------------------------------------------------------

    @app.get(
        "/customers/{customer_id}/recommendations",
        response_model=schemas.CustomerRecommendations,
        tags=["recommendations"],
    )
    async def customer_recommendations(
        customer_id: CustomerIdPath,
        _user: User,
        list_type: Annotated[schemas.ListType, Query(alias="list")] = "discover",
        n: N = 10,
    ) -> Response:
        """The customer's ranked list; a customer the run does not know gets the cold-start list
        (the best sellers) and `known_customer: false`."""
        snap = snapshot()
        known = (customer_id, "discover") in snap.lists
        note = None
        items = snap.lists.get((customer_id, list_type))
        if items is None and known:  # a registered customer without purchases: nothing to buy again
            items = snap.lists[(customer_id, "discover")]
            note = f"customer {customer_id} has no purchases: their cold-start list instead"
        if items is None:
            items = snap.best_seller_items
            note = (
                f"customer {customer_id} is not in the published run {snap.recommendation_run_id}:"
                " the cold-start list (best sellers by share of invoices)"
            )
        header = {
            "run_id": snap.recommendation_run_id,
            "customer_id": customer_id,
            "list": list_type,
            "known_customer": known,
            "cold_start": customer_id in snap.cold_start_customers or not known,
            "note": note,
        }
        return _raw(envelope(header, items[:n]))

    @app.get(
        "/products/{product_id}/similar", response_model=schemas.SimilarProducts, tags=["recommendations"]
    )
    async def similar_products(
        product_id: ProductIdPath,
        _user: User,
        method: Annotated[schemas.Method, Query()] = "co_purchase",
        n: N = 10,
    ) -> Response:
        """The most similar products by description (`content`) or by the customers who bought
        them (`co_purchase`); an unsold product has no co_purchase neighbours."""
        snap = snapshot()
        header = {
            "run_id": snap.recommendation_run_id,
            "product_id": product_id,
            "description": product(snap, product_id),
            "method": method,
        }
        return _raw(envelope(header, snap.similar.get((product_id, method), [])[:n]))

    @app.get(
        "/products/{product_id}/bought-together",
        response_model=schemas.BoughtTogether,
        tags=["recommendations"],
    )
    async def bought_together(product_id: ProductIdPath, _user: User, n: N = 10) -> Response:
        """Products bought on the same invoices, highest lift first (support, confidence, lift)."""
        snap = snapshot()
        header = {
            "run_id": snap.recommendation_run_id,
            "product_id": product_id,
            "description": product(snap, product_id),
        }
        return _raw(envelope(header, snap.pairs.get(product_id, [])[:n]))

    @app.post("/recommendations", response_model=schemas.BasketRecommendations, tags=["recommendations"])
    async def basket_recommendations(body: schemas.BasketRequest, _user: User) -> Response:
        """Recommendations for a live basket, computed now from the published similarity and
        pairs (see include/serve/basket.py); basket and excluded products are never proposed."""
        snap = snapshot()
        unknown = [p for p in body.product_ids if p not in snap.position]
        if unknown:
            raise _not_found(
                f"unknown product(s) {unknown} in product_ids: not in the catalogue of the published run"
                f" {snap.recommendation_run_id}"
            )
        picks = basket.recommend(
            snap.neighbours,
            [snap.position[p] for p in body.product_ids],
            [snap.position[p] for p in body.exclude if p in snap.position],
            body.n,
        )
        items = []
        for rank, pick in enumerate(picks, start=1):
            product_id = snap.product_ids[pick.position]
            because = snap.product_ids[pick.because_of] if pick.because_of is not None else None
            reason = basket.REASONS[pick.signal]
            items.append(
                {
                    "rank": rank,
                    "product_id": product_id,
                    "description": snap.descriptions[product_id],
                    "score": pick.score,
                    "reason": reason.format(f"{because} {snap.descriptions[because]}".strip())
                    if because
                    else reason,
                    "because_of": because,
                }
            )
        return _json(
            {
                "run_id": snap.recommendation_run_id,
                "basket": list(dict.fromkeys(body.product_ids)),
                "items": items,
            }
        )

    # --- segments --------------------------------------------------------------------------

    @app.get("/customers/{customer_id}/segment", response_model=schemas.CustomerSegment, tags=["segments"])
    async def customer_segment(customer_id: CustomerIdPath, _user: User) -> Response:
        """The customer's segment in the published segmentation run, with their features and the
        segment's profile."""
        snap = snapshot()
        answer = snap.segments.get(customer_id)
        if answer is None:
            raise _not_found(
                f"unknown customer {customer_id}: not segmented in the published run {snap.segmentation_run_id}"
                " (no sale before its as-of date); POST /segments/score assigns features to a segment"
            )
        return _raw(with_run(snap.segmentation_run_id, answer))

    @app.post("/segments/score", response_model=schemas.ScoredSegment, tags=["segments"])
    def score_segment(body: schemas.CustomerFeatures, _user: User) -> Response:
        """The segment of a customer's feature values, from the published run's saved models
        (preprocessor, K-means, PCA of the run folder)."""
        from include.serve.scoring import score

        snap = snapshot()
        try:
            scored = score(snap.model_dir, body.model_dump())
        except FileNotFoundError as err:
            raise HTTPException(
                status_code=503,
                detail=f"the saved models of run {snap.segmentation_run_id} are missing: {err.filename}",
            ) from None
        return _json(
            {"run_id": snap.segmentation_run_id, **scored, "segment": snap.profiles.get(scored["segment_id"])}
        )

    # --- report page, runbook, files -------------------------------------------------------

    def _base(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")

    @app.get("/report", response_class=HTMLResponse, tags=["report"])
    def report_latest(request: Request, _user: PageUser) -> HTMLResponse:
        """The run report of the latest published run (the UI's "Segments & recommendations")."""
        return _report_page(request, None)

    @app.get("/report/runs/{run_id}", response_class=HTMLResponse, tags=["report"])
    def report_run(request: Request, run_id: str, _user: PageUser) -> HTMLResponse:
        """The run report of a kept past run (its publish_marts run id)."""
        return _report_page(request, run_id)

    def _report_page(request: Request, run_id: str | None) -> HTMLResponse:
        from include.db.connection import connect
        from include.serve import report

        with connect() as conn:
            runs = report.kept_runs(conn)
            run = (
                runs[0] if run_id is None and runs else next((r for r in runs if r["run_id"] == run_id), None)
            )
            if run is None and run_id is not None:
                raise _not_found(f"unknown run {run_id!r}: not a kept publication run (marts.pipeline_runs)")
            if run is None:
                return HTMLResponse(render.empty_page(_base(request)))
            page = render.report_page(report.build_report(conn, run), runs, _base(request))
        return HTMLResponse(page)

    def _run_file(find, missing: str, media_type: str | None = None) -> FileResponse:
        """The file `find(conn)` locates for a run (media type: as given, else from its name), else
        404 `missing`."""
        from include.db.connection import connect
        from include.serve import report

        with connect() as conn:
            path = find(conn)
        if path is None:
            raise _not_found(missing)
        return FileResponse(path, media_type=media_type or report.media_type(path))

    @app.get("/report/runs/{run_id}/plots/{name}.png", include_in_schema=False)
    def report_plot(run_id: str, name: str, _user: PageUser) -> FileResponse:
        from include.serve.report import run_plot

        missing = f"no plot {name!r} recorded for run {run_id!r}"
        return _run_file(lambda conn: run_plot(conn, run_id, name), missing, "image/png")

    @app.get("/report/runs/{run_id}/data-docs/{relative:path}", include_in_schema=False)
    def report_data_docs(run_id: str, relative: str, _user: PageUser) -> FileResponse:
        from include.serve.report import run_data_docs

        return _run_file(
            lambda conn: run_data_docs(conn, run_id, relative),
            f"no Data Docs page {relative!r} for run {run_id!r}",
        )

    @app.get("/docs/runbook.md", response_class=HTMLResponse, tags=["report"])
    def runbook(_user: PageUser) -> HTMLResponse:
        """docs/runbook.md as HTML; the failure callback's runbook links point here."""
        return HTMLResponse(render.runbook_page())

    return app


app = create_app()


def standalone_app() -> FastAPI:
    """The app of one `make serve` worker process (uvicorn's factory): it only serves the API, so
    the reload thread and /segments/score hand the interpreter lock to the event loop after 1 ms
    rather than Python's default 5 ms."""
    import sys

    sys.setswitchinterval(0.001)
    return app


def run(host: str = "127.0.0.1", port: int = config.SERVE_PORT, workers: int = config.SERVE_WORKERS) -> int:
    """Serve the app with uvicorn (uvloop, httptools, no access log) until interrupted, in
    `workers` processes sharing the port (each holds its own snapshot of the published run)."""
    import uvicorn

    uvicorn.run(
        f"{__name__}:standalone_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="info",
    )
    return 0
