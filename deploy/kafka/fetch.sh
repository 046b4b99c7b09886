#!/usr/bin/env bash
# Obtain the Apache Kafka broker jars from Maven Central into a cache directory.
#
#   deploy/kafka/fetch.sh [LIB_DIR]
#
# LIB_DIR defaults to ${OMNIROUTE_STATE_DIR:-$HOME/.cache/omniroute}/kafka-<version>-<pom digest>/libs.
# A second run finds the marker file and touches no network.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
state="${OMNIROUTE_STATE_DIR:-$HOME/.cache/omniroute}"
digest="$(sha256sum "$here/pom.xml" | cut -c1-12)"   # a changed dependency list: a new directory
lib="${1:-$state/kafka-$version-$digest/libs}"
marker="$lib/.complete"
if [[ -f "$marker" ]]; then
  echo "kafka $version jars cached in $lib"
  exit 0
fi
echo "fetching kafka $version jars from Maven Central into $lib (first run only)..."
mkdir -p "$lib"
mvn -B --no-transfer-progress -f "$here/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$lib" -DincludeScope=runtime -Dmdep.useRepositoryLayout=false >&2
count="$(ls "$lib"/*.jar | wc -l)"
echo "$version" > "$marker"
echo "kafka $version: $count jars in $lib"
