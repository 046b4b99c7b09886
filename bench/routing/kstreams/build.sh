#!/usr/bin/env bash
# Build the Kafka Streams reference (bench/routing/bench_kstreams.py calls this).
#
#   bench/routing/kstreams/build.sh     # prints the classpath to run it with
#
# The first run fetches kafka-streams and Maven's plugins from Maven Central into
# ~/.m2 (a minute or two); later runs are offline and rebuild only when a source or
# the pom changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v mvn >/dev/null || { echo "kstreams: Maven (mvn) is not installed (make bootstrap)" >&2; exit 1; }
stamp="$here/target/.built"
want="$(cat "$here/build.sh" "$here/pom.xml" $(find "$here/src" -type f | sort) | sha256sum | cut -c1-16)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "kstreams: building the Kafka Streams reference with mvn (first run fetches its jars)..." >&2
  rm -rf "$here/target/lib"  # no jar of an earlier dependency list left on the classpath
  # -q still prints bare colour resets: strip them (pipefail keeps mvn's exit status)
  mvn -q -B --no-transfer-progress -f "$here/pom.xml" package 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
  echo "$want" > "$stamp"
  echo "kstreams: built ($(ls "$here/target/lib" | wc -l) jars in target/lib)" >&2
fi
echo "$here/target/classes:$here/target/lib/*"
