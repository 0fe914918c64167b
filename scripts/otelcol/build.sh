#!/usr/bin/env bash
# Builds the minimal OpenTelemetry Collector of main.go (OTLP receiver, OTLP/HTTP exporter) that
# test/observability/tracing.test.ts exports to, into a cache outside the repository:
#   ~/.cache/kitsune/otelcol-v0.165.0/otelcol
# Nothing is written inside the checkout. Skips when the binary is there already, or when no Go
# toolchain is installed (the test then uses its OTLP receiver in test/support/otlp alone).
# The first build downloads ~300 modules through the Go module proxy and compiles for many minutes
# (more than 30 on a loaded 2-core machine, which is why CI does not run it);
# every later run finds the binary and returns at once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${HOME}/.cache/kitsune/otelcol-v0.165.0"
if [ -x "$out/otelcol" ]; then
  echo "otelcol: $out/otelcol (cached)"
  exit 0
fi
go=$(command -v go || true)
[ -z "$go" ] && [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go
if [ -z "$go" ]; then
  echo "otelcol: no Go toolchain; the tracing test uses its own OTLP receiver"
  exit 0
fi
mkdir -p "$out"
start=$(date +%s)
GOFLAGS=-mod=readonly "$go" build -C "$here" -trimpath -o "$out/otelcol.tmp" .
mv "$out/otelcol.tmp" "$out/otelcol"
echo "otelcol: built $out/otelcol in $(( $(date +%s) - start )) s"
