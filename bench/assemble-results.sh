#!/usr/bin/env bash
# Rebuilds bench/RESULTS.md from bench/results/*.md (each written by its benchmark's author with the run's numbers):
# the summary first, then every component, then the fault matrix. Run it after updating any of them.
set -euo pipefail
cd "$(dirname "$0")"
{
  cat results/summary.md
  for part in sensor responder capturer shipper analyzer faults; do
    [ -f "results/$part.md" ] || continue
    printf '\n---\n\n'
    # each part's own title becomes a section of this file
    sed '1s/^# /## /; 2,$s/^## /### /' "results/$part.md"
  done
} > RESULTS.md
echo "bench/RESULTS.md: $(wc -l < RESULTS.md) lines"
