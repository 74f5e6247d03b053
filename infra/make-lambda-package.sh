#!/usr/bin/env bash
# make-lambda-package.sh BINARY ZIP — packs BINARY as a provided.al2023 Lambda: ZIP holds `bootstrap` (BINARY) and
# lib/ with every shared library it needs, transitively, except those the runtime image provides (glibc, libgcc_s).
# The binary should carry RUNPATH $ORIGIN/lib (lambda.mk links it so); Lambda also puts /var/task/lib on
# LD_LIBRARY_PATH. Run infra/check-lambda-package.sh ZIP afterwards (make lambda does).
set -euo pipefail

usage() { echo "usage: $0 BINARY ZIP" >&2; exit 2; }
[ $# -eq 2 ] || usage
binary=$1 zip_path=$2
[ -x "$binary" ] || { echo "$0: $binary: not an executable file" >&2; exit 2; }

PROVIDED_LIBS=(libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libresolv.so.2
               libutil.so.1 libanl.so.1 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1 libgcc_s.so.1 linux-vdso.so.1)
is_provided() { local lib; for lib in "${PROVIDED_LIBS[@]}"; do [ "$1" = "$lib" ] && return 0; done; return 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib"
install -m 0755 "$binary" "$stage/bootstrap"

# ldd lists the whole closure (the binary's needs and theirs). A library ldd cannot find is an error here, not on
# the first invocation in the cloud.
ldd_out=$(ldd "$binary")
if grep -q 'not found' <<<"$ldd_out"; then
    echo "$0: $binary: libraries not found:" >&2
    grep 'not found' <<<"$ldd_out" >&2
    exit 1
fi
while read -r soname path; do
    is_provided "$soname" && continue
    # copy the file itself under its soname (ldd shows symlinks' names)
    cp -L "$path" "$stage/lib/$soname"
    chmod 0644 "$stage/lib/$soname"
done < <(awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' <<<"$ldd_out")

# Strip debug info: a smaller zip uploads and cold-starts faster; the binary in bin/ keeps its symbols.
strip --strip-unneeded "$stage/bootstrap" "$stage"/lib/* 2>/dev/null || true

mkdir -p "$(dirname "$zip_path")"
rm -f "$zip_path"
abs_zip=$(cd "$(dirname "$zip_path")" && pwd)/$(basename "$zip_path")
(cd "$stage" && zip -q -X -r "$abs_zip" bootstrap lib)
echo "make-lambda-package: $zip_path: bootstrap + $(find "$stage/lib" -type f | wc -l) libraries," \
     "$(du -k "$zip_path" | cut -f1) KiB"
