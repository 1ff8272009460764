"""Operating the pipeline through the real Airflow: REST API client, services, table checksums,
fault injection and a browser screenshot. Used by the end-to-end tests and by on-call scripts."""
