"""Airflow plugin: the recommendation API and the run report page, inside the api-server.

Thin: the app is include.serve.app. Mounted at /recommendations (so the API is at
http://<api-server>/recommendations/..., its OpenAPI page at /recommendations/docs), and the
report page is a "Segments & recommendations" entry of the UI navigation, shown inside the UI.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from include.serve.app import app

URL_PREFIX = "/recommendations"


class SegmentsAndRecommendationsPlugin(AirflowPlugin):
    name = "segments_and_recommendations"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Segments & recommendations API"}]
    external_views = [
        {
            "name": "Segments & recommendations",
            "href": f"{URL_PREFIX}/report",
            "url_route": "segments-and-recommendations",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
