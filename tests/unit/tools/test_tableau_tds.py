"""The Tableau data source generator: the relationships form the tree Tableau's logical layer
accepts, field captions read as people write them, each environment has its connection."""

from __future__ import annotations

import pytest
import yaml

from include import config
from tools import tableau_tds as tableau
from tools.tableau_tds import RELATIONSHIPS, Relationship, caption, check_tree, parse_tds

pytestmark = pytest.mark.unit


def _names(relationships) -> set[str]:
    return {r.left for r in relationships} | {r.right for r in relationships}


def test_the_declared_relationships_form_one_tree_rooted_at_the_sales_fact():
    check_tree(_names(RELATIONSHIPS))  # raises otherwise
    assert tableau.ROOT == "fct_order_lines"


def test_a_mart_without_relationship_is_named():
    with pytest.raises(ValueError, match=r"marts \['orphan_mart'\] have no relationship"):
        check_tree(_names(RELATIONSHIPS) | {"orphan_mart"})


def test_a_cycle_is_refused():
    # the returns fact related to a second dimension closes the loop
    # fct_order_lines - dim_customers - fct_returns - dim_products - fct_order_lines
    cycle = (*RELATIONSHIPS, Relationship("fct_returns", "customer_id", "dim_customers", "customer_id"))
    with pytest.raises(ValueError, match="form a cycle"):
        check_tree(_names(RELATIONSHIPS), cycle)


def test_a_relationship_to_an_unknown_mart_is_named():
    with pytest.raises(ValueError, match=r"not in marts: \['dim_customers'\]"):
        check_tree(_names(RELATIONSHIPS) - {"dim_customers"})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("customer_id", "Customer ID"),
        ("ndcg_at_10", "NDCG at 10"),
        ("iso_weekday", "ISO Weekday"),
        ("is_guest", "Is Guest"),
        ("price_band_label", "Price Band Label"),
    ],
)
def test_captions(name, expected):
    assert caption(name) == expected


def test_table_captions_say_fact_or_dimension():
    assert tableau.table_caption("fct_order_lines") == "Order Lines (fact)"
    assert tableau.table_caption("dim_dates") == "Dates (dim)"
    assert tableau.table_caption("customer_segments") == "Customer Segments"


def test_each_environment_has_its_data_source_and_connection():
    envs = {e.name: e for e in tableau.environments(embedded_port=60001)}
    assert envs["embedded"].port == 60001 and envs["embedded"].path == config.TABLEAU_TDS_PATH
    assert envs["compose"].path == config.TABLEAU_COMPOSE_TDS_PATH
    assert tableau.environments()[0].port == config.EMBEDDED_PG_PORT  # the port comes from config


def test_the_compose_data_source_points_where_docker_compose_publishes_the_warehouse():
    compose = yaml.safe_load((config.PROJECT_ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
    published = {p.rsplit(":", 1)[0] for p in compose["services"]["warehouse"]["ports"]}
    assert f"127.0.0.1:{config.COMPOSE_WAREHOUSE_PORT}" in published
    model = parse_tds(config.TABLEAU_COMPOSE_TDS_PATH.read_text(encoding="utf-8"))
    assert (model.server, model.port, model.database) == ("127.0.0.1", config.COMPOSE_WAREHOUSE_PORT, "dwh")
    embedded = parse_tds(config.TABLEAU_TDS_PATH.read_text(encoding="utf-8"))
    assert (embedded.server, embedded.database) == (config.EMBEDDED_PG_HOST, "dwh")
