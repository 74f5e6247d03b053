#!/bin/sh
# Makes docs/report.png (the README's picture of `lurker-analyzer --report`) from the demo-like corpus of
# make_corpus.py, rendered by headless Chromium. Run from the repository root after `make`.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 tests/data/report/make_corpus.py "$tmp/archive" >/dev/null
bin/lurker-analyzer --report "$tmp/report.html" "$tmp/archive"
mkdir -p docs
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$tmp/profile" --hide-scrollbars \
    --screenshot="$PWD/docs/report.png" --window-size=1280,2000 "file://$tmp/report.html" 2>/dev/null
echo "wrote docs/report.png"
