"""Support code of the end-to-end tests: operating the pipeline through the real Airflow (REST
API client, services, table checksums, fault injection, a browser screenshot)."""
