"""deploy/ carries compose and Kubernetes files for users who have those; they stay in step with the stack."""

from __future__ import annotations

from pathlib import Path

import yaml

from omniroute.stack import COMPONENTS

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
PROCESSES = {c.name for c in COMPONENTS} - {"prometheus"}


class TestComposeFile:
    def test_runs_every_process_of_the_stack_with_kafka_and_postgres(self) -> None:
        """One service per omniroute process, plus the broker, the database and a setup job."""
        services = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())["services"]
        assert PROCESSES | {"kafka", "postgres", "setup", "prometheus"} == set(services)
        for name in PROCESSES:
            assert services[name]["depends_on"] == {"setup": {"condition": "service_completed_successfully"}}
            assert services[name]["environment"]["OMNIROUTE_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert services["kafka"]["image"].endswith(":4.1.2"), "same Kafka as deploy/kafka/pom.xml"

    def test_its_prometheus_scrapes_every_process_under_the_alerting_job_names(self) -> None:
        """Alert rules select jobs named omniroute-<process>."""
        scrape = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
        assert {job["job_name"] for job in scrape["scrape_configs"]} == {f"omniroute-{p}" for p in PROCESSES}


class TestKubernetesManifests:
    def test_one_deployment_per_process_with_probes_on_the_health_endpoints(self) -> None:
        """Liveness on /healthz, readiness on /readyz, metrics annotated for scraping."""
        documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "omniroute.yaml").read_text()))
        deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
        assert set(deployments) == {f"omniroute-{p}" for p in PROCESSES}
        for deployment in deployments.values():
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert deployments["omniroute-router"]["spec"]["replicas"] == 1

    def test_a_setup_job_migrates_and_creates_the_topics_as_compose_does(self) -> None:
        """Topics and the schema exist with their own settings (partitions, compaction),
        not as a broker's auto-creation would make them on a process's first request."""
        documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "omniroute.yaml").read_text()))
        (job,) = [d for d in documents if d["kind"] == "Job"]
        (container,) = job["spec"]["template"]["spec"]["containers"]
        compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())["services"]
        assert container["command"] == compose["setup"]["entrypoint"]
        assert "omniroute topics create" in container["command"][-1]
        assert {e["configMapRef"]["name"] for e in container["envFrom"] if "configMapRef" in e} \
            == {"omniroute"}
