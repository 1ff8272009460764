"""Every Airflow Asset of the pipeline, defined once; producers and consumers import them here."""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias


def _by_layout(transactions: Asset, profiles: Asset) -> dict[str, Asset]:
    """The asset of each source layout's family: the two transaction layouts, the profiles one."""
    return {"online_retail": transactions, "online_retail_ii": transactions, "customer_personality": profiles}


# The ingestion DAG emits, through this alias, the asset of the layout family it loaded.
RAW_LOADS = AssetAlias("raw_loads")
RAW_TRANSACTIONS = Asset(name="raw_transactions", uri="dwh://raw/transactions", group="warehouse")
RAW_CUSTOMER_PROFILES = Asset(
    name="raw_customer_profiles", uri="dwh://raw/customer_profiles", group="warehouse"
)

RAW_ASSET_BY_LAYOUT = _by_layout(RAW_TRANSACTIONS, RAW_CUSTOMER_PROFILES)

# The cleaning DAG emits, through this alias, the staging asset of the layout family it cleaned.
STAGING_LOADS = AssetAlias("staging_loads")
STAGING_TRANSACTIONS = Asset(name="staging_transactions", uri="dwh://staging/transactions", group="warehouse")
STAGING_CUSTOMER_PROFILES = Asset(
    name="staging_customer_profiles", uri="dwh://staging/customer_profiles", group="warehouse"
)
STAGING_ASSET_BY_LAYOUT = _by_layout(STAGING_TRANSACTIONS, STAGING_CUSTOMER_PROFILES)

# Published marts.
CUSTOMER_SEGMENTS = Asset(name="customer_segments", uri="dwh://marts/customer_segments", group="marts")
PRODUCT_RECOMMENDATIONS = Asset(
    name="product_recommendations", uri="dwh://marts/customer_recommendations", group="marts"
)
