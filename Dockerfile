# The Airflow image docker-compose.yaml runs: the official image plus the project's pinned
# requirements. The project's code (dags/ plugins/ include/ sql/) is mounted, not copied.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}
ARG AIRFLOW_VERSION=3.3.2
COPY requirements.txt /requirements.txt
# Keep the image's Airflow: the pins must agree with it (a test checks the versions match).
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt
