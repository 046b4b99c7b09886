"""The Apache Kafka jars omniroute runs its local broker from, fetched once through Maven.

``deploy/kafka/pom.xml`` pins the version and the dependency list;
``deploy/kafka/fetch.sh`` resolves them from Maven Central into the cache directory.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from omniroute.errors import BrokerError

REPO_ROOT = Path(__file__).resolve().parents[3]
DEPLOY_KAFKA = REPO_ROOT / "deploy" / "kafka"


def kafka_version() -> str:
    """The pinned Kafka version, read from ``deploy/kafka/pom.xml``."""
    pom = DEPLOY_KAFKA / "pom.xml"
    if not pom.exists():
        raise BrokerError(
            f"{pom} not found", hint="run omniroute from a checkout of the repository"
        )
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom.read_text())
    if match is None:
        raise BrokerError(f"no <kafka.version> in {pom}")
    return match.group(1)


def fetch_jars(cache_dir: Path, progress: Callable[[str], None] = print) -> Path:
    """Return the directory of the broker's jars, fetching them with mvn the first time."""
    version = kafka_version()
    # named by the dependency list too: a changed pom.xml fetches into a new directory
    # (never under a broker running from the old one) instead of reusing the old jars
    digest = hashlib.sha256((DEPLOY_KAFKA / "pom.xml").read_bytes()).hexdigest()[:12]
    libs = cache_dir / f"kafka-{version}-{digest}" / "libs"
    if (libs / ".complete").exists():
        return libs
    if shutil.which("mvn") is None:
        raise BrokerError("Maven (mvn) is not installed", hint="apt-get install maven")
    progress(f"fetching Apache Kafka {version} from Maven Central (first run only)...")
    result = subprocess.run(
        ["bash", str(DEPLOY_KAFKA / "fetch.sh"), str(libs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise BrokerError(f"fetching the Kafka jars failed: {' / '.join(tail)}")
    progress(result.stdout.strip().splitlines()[-1])
    return libs
