"""A small client of Airflow's REST API v2, authenticated with a JWT from the simple auth manager.

What on-call does from the UI, as calls: trigger a DAG run, wait for its state, list its task
instances, clear task instances so they rerun (`POST /api/v2/dags/{dag_id}/clearTaskInstances`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from include import config

log = logging.getLogger(__name__)

FINISHED_RUN_STATES = frozenset({"success", "failed"})
ACTIVE_RUN_STATES = frozenset({"queued", "running"})


class AirflowApiError(RuntimeError):
    """A REST call failed, or a run did not reach the wanted state in time."""


@dataclass
class AirflowClient:
    """`AirflowClient("http://127.0.0.1:8080")`; logs in lazily and again when the token expires."""

    base_url: str
    username: str = config.AIRFLOW_ADMIN_USER
    password: str = config.AIRFLOW_ADMIN_PASSWORD
    timeout: float = 30.0
    _token: str | None = field(default=None, repr=False)
    _http: httpx.Client | None = field(default=None, repr=False)

    # --- plumbing ------------------------------------------------------------------------------
    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def login(self) -> str:
        """`POST /auth/token` with the admin's credentials; returns (and keeps) the JWT."""
        response = self.http.post("/auth/token", json={"username": self.username, "password": self.password})
        if response.status_code not in (200, 201):
            raise AirflowApiError(
                f"login as {self.username!r} at {self.base_url}/auth/token failed: "
                f"HTTP {response.status_code} {response.text[:300]}"
            )
        self._token = response.json()["access_token"]
        return self._token

    @property
    def token(self) -> str:
        return self._token or self.login()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call to /api/v2<path>; JSON in, JSON out; a clear error on any non-2xx answer."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token}"}
            response = self.http.request(method, f"/api/v2{path}", headers=headers, **kwargs)
            if response.status_code == 401 and attempt == 1:
                self._token = None  # expired: log in again once
                continue
            break
        if response.status_code >= 400:
            raise AirflowApiError(
                f"{method} /api/v2{path}: HTTP {response.status_code} {response.text[:500]}"
            )
        return response.json() if response.content else None

    # --- health and DAGs -----------------------------------------------------------------------
    def healthy(self) -> bool:
        """True when the api-server answers and reports a healthy metadata database."""
        try:
            response = self.http.get("/api/v2/monitor/health", timeout=5)
        except httpx.HTTPError:
            return False
        return (
            response.status_code == 200 and response.json().get("metadatabase", {}).get("status") == "healthy"
        )

    def get_dag(self, dag_id: str) -> dict | None:
        try:
            return self.request("GET", f"/dags/{dag_id}")
        except AirflowApiError as err:
            if "HTTP 404" in str(err):
                return None
            raise

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        return self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def import_errors(self) -> list[dict]:
        return self.request("GET", "/importErrors", params={"limit": 100})["import_errors"]

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        """Wait until the dag-processor has parsed every DAG in `dag_ids` (they appear in the API)."""
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        while time.monotonic() < deadline:
            missing = [d for d in dag_ids if self.get_dag(d) is None]
            if not missing:
                return
            time.sleep(2)
        errors = {e["filename"]: e["stack_trace"][-500:] for e in self.import_errors()}
        raise AirflowApiError(f"DAGs not parsed after {timeout:.0f} s: {missing}; import errors: {errors}")

    # --- runs ----------------------------------------------------------------------------------
    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> dict:
        """Trigger a manual run (no logical date, as the UI's trigger button does)."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        run = self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)
        log.info("triggered %s run %s", dag_id, run["dag_run_id"])
        return run

    def get_run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def list_runs(self, dag_id: str, limit: int = 100) -> list[dict]:
        """The DAG's runs, oldest first."""
        answer = self.request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": limit, "order_by": "id"})
        return answer["dag_runs"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600, poll: float = 2.0) -> dict:
        """Wait until the run is finished; returns it (state success or failed)."""
        deadline = time.monotonic() + timeout
        run = self.get_run(dag_id, run_id)
        while run["state"] not in FINISHED_RUN_STATES:
            if time.monotonic() > deadline:
                raise AirflowApiError(
                    f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f} s; "
                    f"tasks: {self.task_states(dag_id, run_id)}"
                )
            time.sleep(poll)
            run = self.get_run(dag_id, run_id)
        return run

    def wait_for_new_run(self, dag_id: str, known: set[str], timeout: float = 300) -> dict:
        """Wait for a run of `dag_id` whose id is not in `known` (e.g. an asset-triggered one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = [r for r in self.list_runs(dag_id) if r["dag_run_id"] not in known]
            if fresh:
                return fresh[-1]
            time.sleep(2)
        raise AirflowApiError(f"no new run of {dag_id} within {timeout:.0f} s (known runs: {sorted(known)})")

    def active_runs(self, dag_ids: list[str]) -> list[tuple[str, str, str]]:
        """(dag_id, run_id, state) of every queued or running run of `dag_ids`."""
        return [
            (dag_id, r["dag_run_id"], r["state"])
            for dag_id in dag_ids
            for r in self.list_runs(dag_id)
            if r["state"] in ACTIVE_RUN_STATES
        ]

    def wait_until_quiet(self, dag_ids: list[str], settle: float = 15, timeout: float = 900) -> None:
        """Wait until no run of `dag_ids` is queued or running for `settle` seconds in a row
        (asset-triggered runs of downstream DAGs appear a few seconds after their producer ends)."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            active = self.active_runs(dag_ids)
            now = time.monotonic()
            if active:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= settle:
                return
            time.sleep(2)
        raise AirflowApiError(f"runs still active after {timeout:.0f} s: {self.active_runs(dag_ids)}")

    # --- task instances ------------------------------------------------------------------------
    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        answer = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return answer["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict:
        """One task instance; a mapped task's by its map index (>= 0)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        return self.request("GET", path if map_index < 0 else f"{path}/{map_index}")

    def clear_tasks(
        self,
        dag_id: str,
        run_id: str,
        task_ids: list[str | tuple[str, int]],
        *,
        include_downstream: bool = False,
        only_failed: bool = False,
    ) -> list[dict]:
        """Clear task instances of one run so the scheduler reruns them (the UI's Clear button);
        a (task_id, map_index) clears one map index of a mapped task; returns the cleared task
        instances."""
        body = {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": task_ids,
            "only_failed": only_failed,
            "include_downstream": include_downstream,
            "include_upstream": False,
            "reset_dag_runs": True,
        }
        answer = self.request("POST", f"/dags/{dag_id}/clearTaskInstances", json=body)
        cleared = answer.get("task_instances", [])
        log.info("cleared %s in %s run %s", [t["task_id"] for t in cleared], dag_id, run_id)
        return cleared

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: set[str],
        timeout: float = 300,
        poll: float = 0.5,
    ) -> dict:
        """Wait until the task instance is in one of `states`; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            ti = self.task_instance(dag_id, run_id, task_id)
            if ti["state"] in states:
                return ti
            if time.monotonic() > deadline:
                raise AirflowApiError(f"{dag_id}.{task_id} in run {run_id} is {ti['state']}, not {states}")
            time.sleep(poll)
