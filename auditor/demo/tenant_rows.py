"""Rows of the five tenant tables, which read like a real pipeline's logs.

Runs, the steps of those runs (with BigQuery job ids, slot and token counts, and the errors
real runs hit), data-quality results of those runs, a work queue and schedules, all
cross-referenced by id. The vocabulary (pipelines, error messages, data-quality checks) is
the platform's; nothing here looks like a secret (content secrets are planted as cells, see
`auditor.demo.plants`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from auditor.demo.fake_values import (
    BASE_TIME,
    PEOPLE,
    Row,
    random_hex,
    random_uuid,
    tenant_company,
)
from auditor.demo.specs import kms_key


@dataclass(frozen=True)
class _Pipeline:
    pipeline_id: str
    system: str  # source system
    source_dataset: str
    source_table: str
    steps: tuple[tuple[str, str], ...]  # (step_name, step_type)
    cron: str


_PIPELINES = (
    _Pipeline(
        "daily_orders_sync", "POSTGRES", "sales", "orders",
        (("extract_orders", "LOAD"), ("transform_orders", "TRANSFORM"),
         ("dq_orders", "DQ_CHECK"), ("publish_orders", "QUERY")),
        "0 2 * * *",
    ),
    _Pipeline(
        "salesforce_accounts", "SALESFORCE", "crm", "accounts",
        (("extract_accounts", "LOAD"), ("dedupe_accounts", "TRANSFORM"),
         ("dq_accounts", "DQ_CHECK")),
        "30 3 * * *",
    ),
    _Pipeline(
        "gcs_events_load", "GCS", "raw", "events",
        (("load_events", "LOAD"), ("sessionize_events", "TRANSFORM"),
         ("dq_events", "DQ_CHECK"), ("export_daily_aggregates", "EXPORT")),
        "0 * * * *",
    ),
    _Pipeline(
        "billing_export_rollup", "BIGQUERY", "billing", "gcp_billing_export_v1",
        (("rollup_costs", "QUERY"), ("dq_costs", "DQ_CHECK")),
        "15 5 * * *",
    ),
    _Pipeline(
        "support_ticket_enrichment", "BIGQUERY", "support", "tickets",
        (("select_new_tickets", "QUERY"), ("summarize_tickets", "LLM_ENRICH"),
         ("classify_sentiment", "LLM_ENRICH"), ("dq_ticket_summaries", "DQ_CHECK")),
        "0 */4 * * *",
    ),
    _Pipeline(
        "inventory_snapshot", "POSTGRES", "ops", "inventory",
        (("extract_inventory", "LOAD"), ("snapshot_inventory", "TRANSFORM"),
         ("dq_inventory", "DQ_CHECK")),
        "0 1 * * 1",
    ),
)  # fmt: skip

_TIMEZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Singapore")
_MODELS = ("gemini-1.5-pro", "gemini-1.5-flash", "gemini-2.0-flash")

# (error_type, message template) as real runs report them; {ds} and {tbl} are filled in.
_ERRORS = (
    ("ACCESS_DENIED", "403 Forbidden: Access Denied: Table {tenant}:{ds}.{tbl}: User does not "
     "have permission to query table {tenant}:{ds}.{tbl}, or perhaps it does not exist."),
    ("QUOTA_EXCEEDED", "403 Quota exceeded: Your project exceeded quota for concurrent queries. "
     "For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas"),
    ("INVALID_QUERY", "400 Unrecognized name: {col} at [4:12]"),
    ("NOT_FOUND", "404 Not found: Table {project}:{tenant}.stg_{tbl} was not found in "
     "location US"),
    ("RESOURCES_EXCEEDED", "400 Resources exceeded during query execution: Not enough "
     "resources for query planning - too many subqueries or query is too complex."),
    ("TIMEOUT", "Step exceeded its timeout of {minutes} minutes and was cancelled"),
    ("LLM_RATE_LIMITED", "429 Resource exhausted: Online prediction request quota exceeded "
     "for {model}. Please try again later with backoff."),
    ("SOURCE_UNAVAILABLE", "Connection to source {system} timed out after 30000 ms "
     "(host unreachable); will retry"),
)  # fmt: skip

_DQ_CHECKS = (
    ("NOT_NULL", "order_id is never null", "order_id IS NOT NULL", "order_id"),
    ("UNIQUE", "order_id is unique", "COUNT(DISTINCT order_id) = COUNT(*)", "order_id"),
    ("RANGE", "amount between 0 and 100000", "amount BETWEEN 0 AND 100000", "amount"),
    ("REGEX", "country is ISO-3166 alpha-2", r"REGEXP_CONTAINS(country, r'^[A-Z]{2}$')",
     "country"),
    ("FRESHNESS", "loaded within 26 hours",
     "TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), MAX(_loaded_at), HOUR) <= 26", None),
    ("ROW_COUNT", "at least 1000 rows per day", "COUNT(*) >= 1000", None),
    ("KEYWORD_ABSENT", "no internal project code in notes", "NOT CONTAINS_SUBSTR(notes, keyword)",
     "notes"),
)  # fmt: skip


def _pick_weighted(rng: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def tenant_rows(tenant: str, project: str, count: int, rng: random.Random) -> dict[str, list[Row]]:
    """`count` rows for each of the five tenant tables, cross-referenced."""
    pipelines = rng.sample(_PIPELINES, 3)
    schedules = _schedules(tenant, project, pipelines, count, rng)
    runs = _runs(tenant, project, pipelines, schedules, count, rng)
    steps = _steps(tenant, project, runs, count, rng)
    for run in runs:  # runs are in time order: the last one of a schedule wins
        schedule = next(
            (s for s in schedules if s["scheduled_run_id"] == run["scheduled_run_id"]), None
        )
        if schedule is not None:
            schedule.update(
                last_run_id=run["run_id"],
                last_run_status=run["status"],
                last_run_at=run["start_time"],
            )
    return {
        "x_meta_scheduled_runs": schedules,
        "x_meta_pipeline_runs": runs,
        "x_meta_step_logs": steps,
        "x_meta_dq_results": _dq_results(tenant, project, runs, steps, count, rng),
        "x_meta_pipeline_queue": _queue(tenant, runs, count, rng),
    }


def _pipeline(row: Row) -> _Pipeline:
    return next(p for p in _PIPELINES if p.pipeline_id == row["pipeline_id"])


def _schedules(
    tenant: str, project: str, pipelines: Sequence[_Pipeline], count: int, rng: random.Random
) -> list[Row]:
    _, domain = tenant_company(tenant)
    rows = []
    for i in range(count):
        pipe = pipelines[i % len(pipelines)]
        created = BASE_TIME - timedelta(days=rng.randint(30, 400))
        failures = rng.choice((0, 0, 0, 1, 2, 5))
        cron = pipe.cron
        if i >= len(pipelines):  # more schedules of the same pipelines, at other times
            cron = f"{rng.randint(0, 59)} {rng.randint(0, 23)} * * {rng.choice(('*', '1-5', '0'))}"
        rows.append(
            {
                "scheduled_run_id": random_uuid(rng),
                "tenant_id": tenant,
                "pipeline_id": pipe.pipeline_id,
                "schedule": {
                    "cron_expression": cron,
                    "timezone": rng.choice(_TIMEZONES),
                    "start_date": created.date(),
                    "end_date": None,
                    "catchup": rng.random() < 0.3,
                },
                "is_enabled": failures < 5,
                "author": f"{rng.choice(PEOPLE)}@{domain}",
                "last_run_id": None,
                "last_run_status": None,
                "last_run_at": None,
                "next_run_at": BASE_TIME + timedelta(minutes=rng.randint(5, 1440)),
                "consecutive_failures": failures,
                "total_runs": rng.randint(20, 2000),
                "notification_channels": [
                    f"data-alerts@{domain}",
                    f"projects/{project}/topics/pipeline-alerts",
                ],
                "run_parameters": {"full_refresh": False, "lookback_days": rng.choice((1, 3, 7))},
                "created_at": created,
                "updated_at": created + timedelta(days=rng.randint(0, 29)),
            }
        )
    return rows


def _error(
    rng: random.Random, tenant: str, project: str, pipe: _Pipeline, step_type: str | None
) -> tuple[str, str]:
    if step_type == "LLM_ENRICH":
        kind, template = _ERRORS[6]
    else:
        kind, template = rng.choice([e for e in _ERRORS if e[0] != "LLM_RATE_LIMITED"])
    message = template.format(
        tenant=tenant,
        project=project,
        ds=pipe.source_dataset,
        tbl=pipe.source_table,
        col=rng.choice(("order_total", "customer_ref", "updated_ts")),
        minutes=60,
        model=rng.choice(_MODELS),
        system=pipe.system.lower(),
    )
    return kind, message


def _runs(
    tenant: str,
    project: str,
    pipelines: Sequence[_Pipeline],
    schedules: Sequence[Row],
    count: int,
    rng: random.Random,
) -> list[Row]:
    _, domain = tenant_company(tenant)
    rows = []
    for i in range(count):
        pipe = pipelines[rng.randrange(len(pipelines))]
        start = BASE_TIME - timedelta(hours=6 * (count - i), minutes=rng.randint(0, 300))
        status = (
            "RUNNING"
            if i == count - 1
            else _pick_weighted(
                rng, (("SUCCEEDED", 76), ("FAILED", 16), ("CANCELLED", 4), ("PENDING", 4))
            )
        )
        duration = rng.randint(20_000, 1_800_000)
        trigger = _pick_weighted(
            rng, (("SCHEDULED", 70), ("MANUAL", 12), ("API", 12), ("BACKFILL", 6))
        )
        schedule = (
            next((s for s in schedules if s["pipeline_id"] == pipe.pipeline_id), None)
            if trigger == "SCHEDULED"
            else None
        )
        processing = (start - timedelta(days=1)).date().isoformat()
        finished = status not in ("RUNNING", "PENDING")
        rows.append(
            {
                "run_id": random_uuid(rng),
                "tenant_id": tenant,
                "pipeline_id": pipe.pipeline_id,
                "pipeline_version": _version(rng),
                "status": status,
                "trigger_type": trigger,
                "triggered_by": (
                    f"scheduler:{schedule['scheduled_run_id']}"
                    if schedule
                    else f"{rng.choice(PEOPLE)}@{domain}"
                ),
                "idempotency_key": f"{pipe.pipeline_id}:{processing}:{trigger.lower()}",
                "scheduled_run_id": schedule["scheduled_run_id"] if schedule else None,
                "start_time": start,
                "end_time": start + timedelta(milliseconds=duration) if finished else None,
                "duration_ms": duration if finished else None,
                "rows_processed": rng.randint(1_000, 5_000_000) if status == "SUCCEEDED" else None,
                "bytes_processed": rng.randint(10**6, 5 * 10**11),
                "error_message": _error(rng, tenant, project, pipe, None)[1]
                if status == "FAILED"
                else None,
                "run_config": {
                    "source": {
                        "system": pipe.system,
                        "connection_id": _connection(project, tenant, pipe),
                        "project_id": project if pipe.system == "BIGQUERY" else None,
                        "dataset_id": pipe.source_dataset,
                        "table_id": pipe.source_table,
                        "query": _extract_query(pipe),
                    },
                    "destination": {
                        "project_id": project,
                        "dataset_id": tenant,
                        "table_id": f"stg_{pipe.source_table}",
                        "write_disposition": rng.choice(("WRITE_APPEND", "WRITE_TRUNCATE")),
                        "kms_key_name": kms_key(project, "tenants"),
                    },
                    "parameters": {"processing_date": processing},
                    "timeout_minutes": 60,
                },
                "created_at": start + timedelta(seconds=1),
            }
        )
    return rows


def _extract_query(pipe: _Pipeline) -> str | None:
    """The logged extraction query (a value in a log row, never executed)."""
    if pipe.system == "GCS":
        return None
    table = f"{pipe.source_dataset}.{pipe.source_table}"
    return f"SELECT * FROM {table} WHERE updated_at >= @processing_date"  # noqa: S608


def _connection(project: str, tenant: str, pipe: _Pipeline) -> str | None:
    if pipe.system in ("BIGQUERY", "GCS"):
        return None
    return f"projects/{project}/locations/us/connections/{tenant}-{pipe.system.lower()}"


def _version(rng: random.Random) -> str:
    return f"v{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"


def _steps(
    tenant: str, project: str, runs: Sequence[Row], count: int, rng: random.Random
) -> list[Row]:
    rows: list[Row] = []
    for run in _cycle(runs):
        if len(rows) >= count:
            break
        pipe = _pipeline(run)
        fail_at = rng.randrange(len(pipe.steps)) if run["status"] == "FAILED" else -1
        clock = run["start_time"]
        for index, (name, step_type) in enumerate(pipe.steps):
            if len(rows) >= count:
                break
            rows.append(
                _step(tenant, project, run, pipe, index, name, step_type, fail_at, clock, rng)
            )
            clock += timedelta(milliseconds=rows[-1]["duration_ms"] or 1000)
    return rows


def _step(
    tenant: str,
    project: str,
    run: Row,
    pipe: _Pipeline,
    index: int,
    name: str,
    step_type: str,
    fail_at: int,
    clock: datetime,
    rng: random.Random,
) -> Row:
    status = {
        "SUCCEEDED": "SUCCEEDED",
        "CANCELLED": "SKIPPED",
        "PENDING": "PENDING",
        "RUNNING": "RUNNING" if index == len(pipe.steps) - 1 else "SUCCEEDED",
    }.get(run["status"], "")
    if run["status"] == "FAILED":
        status = "SUCCEEDED" if index < fail_at else ("FAILED" if index == fail_at else "SKIPPED")
    ran = status in ("SUCCEEDED", "FAILED")
    duration = rng.randint(800, 600_000) if ran else None
    error_type, error = (
        _error(rng, tenant, project, pipe, step_type) if status == "FAILED" else (None, None)
    )
    uses_bq = step_type in ("QUERY", "TRANSFORM", "DQ_CHECK", "LLM_ENRICH", "EXPORT")
    llm = step_type == "LLM_ENRICH" and ran
    input_tokens = rng.randint(2_000, 400_000) if llm else None
    output_tokens = rng.randint(200, 60_000) if llm else None
    rows_read = rng.randint(100, 2_000_000) if ran else None
    return {
        "step_log_id": random_uuid(rng),
        "run_id": run["run_id"],
        "tenant_id": tenant,
        "pipeline_id": pipe.pipeline_id,
        "step_name": name,
        "step_type": step_type,
        "step_index": index,
        "status": status,
        "attempt": 1 if status != "FAILED" else rng.randint(1, 3),
        "start_time": clock,
        "end_time": clock + timedelta(milliseconds=duration) if duration else None,
        "duration_ms": duration,
        "rows_processed": rows_read if status == "SUCCEEDED" and step_type != "DQ_CHECK" else None,
        "bytes_processed": rng.randint(10**5, 10**11) if ran and uses_bq else None,
        "bigquery_job_id": f"{project}:US.bquxjob_{random_hex(rng, 8)}_{random_hex(rng, 11)}"
        if ran and uses_bq
        else None,
        "error_type": error_type,
        "error_message": error,
        "metrics": {
            "slot_ms": rng.randint(500, 50_000_000) if ran and uses_bq else None,
            "bytes_billed": rng.randint(10, 10_000) * 10 * 2**20 if ran and uses_bq else None,
            "rows_read": rows_read,
            "rows_written": rows_read if status == "SUCCEEDED" else None,
            "cache_hit": rng.random() < 0.1 if ran and uses_bq else None,
            "model_name": rng.choice(_MODELS) if llm else None,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "token_count": input_tokens + output_tokens if input_tokens and output_tokens else None,
            "max_tokens": 8192 if llm else None,
        }
        if ran
        else None,
        "log_level": "ERROR" if status == "FAILED" else rng.choice(("INFO", "INFO", "WARNING")),
        "created_at": clock + timedelta(milliseconds=(duration or 0) + 250),
    }


def _dq_results(
    tenant: str,
    project: str,
    runs: Sequence[Row],
    steps: Sequence[Row],
    count: int,
    rng: random.Random,
) -> list[Row]:
    dq_steps: list[Row | None] = [s for s in steps if s["step_type"] == "DQ_CHECK"] or [None]
    rows = []
    for i in range(count):
        step = dq_steps[i % len(dq_steps)]
        run = (
            next(r for r in runs if r["run_id"] == step["run_id"]) if step else runs[i % len(runs)]
        )
        pipe = _pipeline(run)
        check_type, check_name, expression, column = _DQ_CHECKS[rng.randrange(len(_DQ_CHECKS))]
        threshold = rng.choice((0.95, 0.99, 1.0))
        checked = rng.randint(1_000, 2_000_000)
        failed = 0 if rng.random() < 0.7 else rng.randint(1, max(1, checked // 50))
        pass_rate = round(1 - failed / checked, 6)
        broken = rng.random() < 0.05
        rows.append(
            {
                "dq_result_id": random_uuid(rng),
                "run_id": run["run_id"],
                "tenant_id": tenant,
                "pipeline_id": pipe.pipeline_id,
                "step_name": step["step_name"] if step else None,
                "target_table": f"{project}.{tenant}.stg_{pipe.source_table}",
                "target_column": column,
                "check": {
                    "check_id": f"{pipe.pipeline_id}.{check_type.lower()}_{column or 'table'}",
                    "check_name": check_name,
                    "check_type": check_type,
                    "severity": rng.choice(("ERROR", "WARN")),
                    "expression": expression,
                    "keyword": "PRJ-ORION" if check_type == "KEYWORD_ABSENT" else None,
                    "threshold": threshold,
                },
                "passed": not broken and pass_rate >= threshold,
                "pass_rate": None if broken else pass_rate,
                "rows_checked": None if broken else checked,
                "rows_failed": None if broken else failed,
                "failed_samples": [
                    {
                        "row_id": f"{pipe.source_table[:3]}_{rng.randint(1, 999_999):06d}",
                        "observed_value": _observed(check_type, rng),
                        "reason": f"{check_name}: violated",
                    }
                    for _ in range(min(failed, 3))
                ]
                if not broken
                else [],
                "executed_at": (step or run)["start_time"] + timedelta(seconds=rng.randint(1, 90)),
                "duration_ms": rng.randint(300, 90_000),
                "error_message": f"400 Unrecognized name: {column or 'loaded_at'} at [1:8]"
                if broken
                else None,
                "details": _dq_details(check_type, failed > 0, rng),
            }
        )
    return rows


def _observed(check_type: str, rng: random.Random) -> str | None:
    return {
        "NOT_NULL": None,
        "UNIQUE": f"ord_{rng.randint(1, 999_999):06d}",
        "RANGE": f"{rng.choice((rng.uniform(-500, -1), rng.uniform(100_001, 250_000))):.2f}",
        "REGEX": rng.choice(("usa", "Deutschland", "U.K.", "")),
        "KEYWORD_ABSENT": "forwarded to PRJ-ORION team for review",
    }.get(check_type)


def _dq_details(check_type: str, failed: bool, rng: random.Random) -> dict[str, Any]:
    if check_type == "RANGE":
        low, high = (-500.0, 250_000.0) if failed else (0.0, 100_000.0)
        return {
            "observed_min": round(rng.uniform(low, 0), 2),
            "observed_max": round(rng.uniform(1_000, high), 2),
        }
    if check_type == "FRESHNESS":
        return {"hours_since_last_load": rng.randint(27, 40) if failed else rng.randint(1, 26)}
    if check_type == "ROW_COUNT":
        return {"observed_rows": rng.randint(0, 999) if failed else rng.randint(1_000, 50_000)}
    return {"sampled": True}


def _queue(tenant: str, runs: Sequence[Row], count: int, rng: random.Random) -> list[Row]:
    rows = []
    for i in range(count):
        run = runs[i % len(runs)]
        status = {
            "SUCCEEDED": "DONE",
            "FAILED": rng.choice(("FAILED", "DEAD_LETTER")),
            "RUNNING": "RUNNING",
            "PENDING": "QUEUED",
            "CANCELLED": "FAILED",
        }[run["status"]]
        enqueued = run["start_time"] - timedelta(seconds=rng.randint(2, 900))
        claimed = None if status == "QUEUED" else enqueued + timedelta(seconds=rng.randint(1, 60))
        attempt = 1 if status in ("DONE", "RUNNING", "QUEUED") else rng.randint(1, 3)
        if status == "DEAD_LETTER":
            attempt = 3
        rows.append(
            {
                "queue_id": random_uuid(rng),
                "tenant_id": tenant,
                "pipeline_id": run["pipeline_id"],
                "run_id": None if status == "QUEUED" else run["run_id"],
                "scheduled_run_id": run["scheduled_run_id"],
                "status": status,
                "priority": rng.choice((0, 0, 0, 5, 10)),
                "idempotency_key": run["idempotency_key"],
                "enqueued_at": enqueued,
                "available_at": enqueued,
                "claimed_at": claimed,
                "claimed_by": f"pipeline-worker-{random_hex(rng, 10)}-{random_hex(rng, 5)}"
                if claimed
                else None,
                "lease_expires_at": claimed + timedelta(minutes=5) if claimed else None,
                "completed_at": run["end_time"]
                if status in ("DONE", "FAILED", "DEAD_LETTER")
                else None,
                "retry": {
                    "attempt": attempt,
                    "max_attempts": 3,
                    "backoff_seconds": 60 * 2 ** (attempt - 1),
                    "next_retry_at": None
                    if status in ("DONE", "DEAD_LETTER") or not run["end_time"]
                    else run["end_time"] + timedelta(seconds=60 * 2 ** (attempt - 1)),
                    "last_error_message": run["error_message"],
                },
                "payload": run["run_config"]["parameters"] | {"trigger": run["trigger_type"]},
                "updated_at": run["end_time"] or claimed or enqueued,
            }
        )
    return rows


def _cycle(rows: Sequence[Row]) -> Iterator[Row]:
    while rows:
        yield from rows
