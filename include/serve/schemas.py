"""Request bodies (validated: a bad one is a 422 naming the field and the rule) and the shapes of
the answers (documented in the OpenAPI page; tests/integration/test_serve.py checks real answers against them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from include.serve.store import MAX_N

ProductId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ListType = Literal["discover", "buy_again"]
Method = Literal["content", "co_purchase"]


# --- requests --------------------------------------------------------------------------------


class BasketRequest(BaseModel):
    """A live basket: the products in it, products not to propose, how many to return."""

    model_config = ConfigDict(extra="forbid")

    product_ids: list[ProductId] = Field(min_length=1, max_length=100, examples=[["85123A", "22423"]])
    exclude: list[ProductId] = Field(default_factory=list, max_length=1_000)
    n: int = Field(10, ge=1, le=MAX_N)


class CustomerFeatures(BaseModel):
    """One customer's features as in ml.customer_features (transactions population)."""

    model_config = ConfigDict(extra="forbid")

    recency_days: int = Field(ge=0, description="Days from the last invoice to the as-of date.")
    frequency: int = Field(ge=1, description="Distinct sale invoices.")
    gross_revenue: float = Field(ge=0, description="Sum of sale line amounts (before returns).")
    tenure_days: int = Field(ge=0, description="Days from the first invoice to the as-of date.")
    avg_basket_value: float = Field(ge=0, description="gross revenue / invoices.")
    distinct_products: int = Field(ge=1, description="Distinct products bought.")
    return_rate: float = Field(0.0, ge=0, le=1, description="Returned amount / gross revenue, 0-1.")
    avg_days_between_orders: float | None = Field(
        None, ge=0, description="Mean days between invoices; empty for one invoice (tenure is used)."
    )


# --- answers ---------------------------------------------------------------------------------


class ListItem(BaseModel):
    rank: int
    product_id: str
    description: str
    score: float
    reason: str


class CustomerRecommendations(BaseModel):
    run_id: str
    customer_id: int
    list: ListType
    known_customer: bool
    cold_start: bool
    note: str | None
    items: list[ListItem]


class SimilarItem(BaseModel):
    rank: int
    product_id: str
    description: str
    score: float


class SimilarProducts(BaseModel):
    run_id: str
    product_id: str
    description: str
    method: Method
    items: list[SimilarItem]


class PairItem(BaseModel):
    rank: int
    product_id: str
    description: str
    invoices: int
    support: float
    confidence: float
    lift: float


class BoughtTogether(BaseModel):
    run_id: str
    product_id: str
    description: str
    items: list[PairItem]


class BasketItem(BaseModel):
    rank: int
    product_id: str
    description: str
    score: float
    reason: str
    because_of: str | None


class BasketRecommendations(BaseModel):
    run_id: str
    basket: list[str]
    items: list[BasketItem]


class CustomerSegment(BaseModel):
    run_id: str
    customer_id: int
    segment_id: int
    segment_name: str
    is_outlier: bool
    kmeans_cluster: int
    pca_x: float
    pca_y: float
    as_of_date: str
    features: dict[str, float | int | str | None]
    segment: dict[str, float | int | str | None] | None


class ScoredSegment(BaseModel):
    run_id: str
    segment_id: int
    segment_name: str
    kmeans_cluster: int
    pca_x: float
    pca_y: float
    segment: dict[str, float | int | str | None] | None


class Health(BaseModel):
    status: Literal["ok", "waiting"]
    run_id: str | None = None
    segmentation_run_id: str | None = None
    runs: dict[str, str] | None = None
    published_at: datetime | None = None
    age_seconds: float | None = None
    loaded_at: datetime | None = None
    load_seconds: float | None = None
    rows: dict[str, int] | None = None
    rows_loaded: int | None = None
    reloads: int = 0
    last_error: str | None = None
