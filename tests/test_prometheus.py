"""The exporter against a real Prometheus server, and the examples/prometheus
files (alert rules, their unit tests, the Grafana dashboard) against promtool
and a real scrape.

Needs Debian's ``prometheus`` package (``.ci/run`` installs it); where the
binaries are missing these tests are skipped and say why.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.polling import get_text, wait
from tests.test_metrics import NOW, _backfill, _free_port
from tui.metrics import BackfillCollector, FileFollower

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "prometheus"
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)"
)
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus not installed (apt-get install prometheus)"
)


def _exported_names(tmp_path: Path) -> set[str]:
    """Every sample name a scrape of a busy backfill holds."""
    path = tmp_path / "t.csv"
    _backfill(path)
    follower = FileFollower(path, stale_after=timedelta(minutes=15))
    follower.catch_up()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BackfillCollector(lambda: [follower], clock=lambda: NOW))
    text = generate_latest(registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((EXAMPLES / "dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [a["expr"] for a in dashboard["annotations"]["list"]]
    return exprs


def test_every_metric_the_examples_use_is_exported(tmp_path: Path) -> None:
    used = set(re.findall(r"\bbackfill_[a-z_]+", (EXAMPLES / "alerts.yml").read_text()))
    for expr in _dashboard_exprs():
        used |= set(re.findall(r"\bbackfill_[a-z_]+", expr))
    assert len(used) >= 12
    assert used <= _exported_names(tmp_path)


@needs_promtool
def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        done = subprocess.run([PROMTOOL, *args], cwd=EXAMPLES, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    config = subprocess.run(
        [PROMTOOL, "check", "config", "--syntax-only", "prometheus.yml"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
    )
    assert config.returncode == 0, config.stdout + config.stderr


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": expr.replace("$file", ".*")}
                    for i, expr in enumerate(_dashboard_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    done = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _query(base: str, promql: str) -> list[dict[str, object]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = json.loads(response.read())
    except OSError:
        return []
    return list(body["data"]["result"]) if body.get("status") == "success" else []


def _value_of(base: str, promql: str) -> float | None:
    result = _query(base, promql)
    return float(result[0]["value"][1]) if len(result) == 1 else None  # type: ignore[index]


@needs_prometheus
def test_a_real_prometheus_scrapes_the_counts_as_rows_arrive(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    store = _backfill(path)
    exporter_port, prometheus_port = _free_port(), _free_port()
    exporter = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "metrics",
            str(path),
            "--listen",
            f"127.0.0.1:{exporter_port}",
            "--interval",
            "0.2s",
        ],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "200ms", "evaluation_interval": "1s"},
                "rule_files": [str(EXAMPLES / "alerts.yml")],
                "scrape_configs": [
                    {
                        "job_name": "backfill",
                        "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                    }
                ],
            }
        )
    )
    server = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{prometheus_port}"
    try:
        assert wait(lambda: get_text(f"{base}/-/ready"), timeout=30), "prometheus never got ready"
        rows = 'backfill_rows_total{job="backfill"}'
        assert wait(lambda: _value_of(base, rows) == 6, timeout=30)
        assert _value_of(base, 'backfill_chunks{status="FAILED"}') == 2
        assert _value_of(base, 'up{job="backfill"}') == 1
        store.append_row({"chunk_date_utc": "2020-01-04", "status": "FAILED", "error_type": "X"})
        store.append_row({"chunk_date_utc": "2020-01-07", "status": "UPLOADED"})
        assert wait(lambda: _value_of(base, rows) == 8, timeout=30)
        assert wait(lambda: _value_of(base, 'backfill_chunks{status="FAILED"}') == 3)
        assert _value_of(base, 'backfill_failed_chunks{error_type="X"}') == 1
        assert _value_of(base, "backfill_missing_chunks") == 0
        # The alert rules loaded into the real server.
        with urllib.request.urlopen(f"{base}/api/v1/rules", timeout=5) as response:
            groups = json.loads(response.read())["data"]["groups"]
        assert {r["name"] for g in groups for r in g["rules"]} >= {
            "BackfillWriterQuiet",
            "BackfillStalledDays",
            "BackfillFailedDaysRising",
            "BackfillNoProgress",
        }
    finally:
        for proc in (server, exporter):
            proc.terminate()
        for proc in (server, exporter):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
