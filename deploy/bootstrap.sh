#!/usr/bin/env bash
# Install everything omniroute needs on a fresh Debian machine, idempotently:
# system packages (Java, Maven, Chromium, Prometheus), the Python virtualenv with
# omniroute and its dev extras, and the Kafka broker jars. Re-running is cheap.
#
#   deploy/bootstrap.sh            # everything
#   OMNIROUTE_SKIP_APT=1 ...       # skip system packages (not root, or already there)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# System packages: one list, installed only when something is missing. A JDK or
# Maven already on PATH (not from Debian) counts as present.
APT_PACKAGES=(default-jre-headless:java maven:mvn prometheus:promtool chromium:chromium)
missing=()
for entry in "${APT_PACKAGES[@]}"; do
  pkg="${entry%%:*}" cmd="${entry#*:}"
  if [[ "$cmd" != "$entry" ]] && command -v "$cmd" >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 && -z "${OMNIROUTE_SKIP_APT:-}" ]]; then
  echo "bootstrap: installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python: a virtualenv per checkout; reinstalled only when pyproject.toml changed.
python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  echo "bootstrap: creating .venv"
  "$python" -m venv .venv
fi
stamp=".venv/.omniroute-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "bootstrap: installing omniroute and its dev dependencies into .venv (pip)"
  .venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"
  echo "$want" > "$stamp"
fi

# Kafka broker jars from Maven Central (cached under ~/.cache/omniroute).
.venv/bin/omniroute kafka fetch
