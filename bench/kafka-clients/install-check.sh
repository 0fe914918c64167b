#!/usr/bin/env bash
# Times a clean install of each candidate in its own empty directory (scenario a).
# CKJS_LINKING=dynamic makes @confluentinc/kafka-javascript link the system's libssl/zlib
# instead of downloading sources, which is the only way it builds without GitHub access.
set -u
for spec in @platformatic/kafka@1.35.0 kafkajs@2.2.4 @confluentinc/kafka-javascript@1.10.1; do
  dir=$(mktemp -d)
  (cd "$dir" && npm init -y >/dev/null)
  start=$(date +%s)
  if (cd "$dir" && npm install --save-exact --no-audit --no-fund "$spec" >"$dir/install.log" 2>&1); then status=ok; else status=FAILED; fi
  echo "$spec: $status in $(( $(date +%s) - start ))s (log: $dir/install.log)"
done
