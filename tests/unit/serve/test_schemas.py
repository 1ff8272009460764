"""The API's request bodies: the scoring body asks for exactly what the saved models need."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from include.ml.features import TRANSACTIONS
from include.serve import schemas

pytestmark = pytest.mark.unit


def test_the_scoring_body_is_the_models_feature_list():
    assert tuple(schemas.CustomerFeatures.model_fields) == TRANSACTIONS.model_features


def test_bad_bodies_name_the_field_and_the_rule():
    with pytest.raises(ValidationError) as err:
        schemas.BasketRequest(product_ids=[], n=0)
    problems = {(e["loc"][0], e["type"]) for e in err.value.errors()}
    assert problems == {("product_ids", "too_short"), ("n", "greater_than_equal")}
    with pytest.raises(ValidationError) as err:
        schemas.CustomerFeatures.model_validate(
            {
                "recency_days": 1,
                "frequency": 1,
                "gross_revenue": 1,
                "tenure_days": 1,
                "avg_basket_value": 1,
                "distinct_products": 1,
                "return_rate": 1.5,
                "colour": "red",
            }
        )
    problems = {(e["loc"][0], e["type"]) for e in err.value.errors()}
    assert problems == {("return_rate", "less_than_equal"), ("colour", "extra_forbidden")}
