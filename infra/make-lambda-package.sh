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

# The binary's machine: ldd runs the dynamic loader, so it can list the libraries of a binary for this machine only.
# A cross-built one (an arm64 analyzer from an x86_64 host, `make lambda-arm64`) has its closure walked from the
# DT_NEEDED entries in Debian's multiarch directories for its machine instead.
elf_machine() { readelf -h "$1" | sed -n 's/^ *Machine: *//p'; }
case $(elf_machine "$binary") in
    *AArch64*) machine=aarch64; multiarch=aarch64-linux-gnu ;;
    *X86-64*) machine=x86_64; multiarch=x86_64-linux-gnu ;;
    *) echo "$0: $binary: neither x86-64 nor AArch64" >&2; exit 1 ;;
esac

# "SONAME PATH" for every library of the closure (what ldd prints as "SONAME => PATH")
closure_ldd() {
    local out
    out=$(ldd "$1")
    if grep -q 'not found' <<<"$out"; then
        echo "$0: $1: libraries not found:" >&2
        grep 'not found' <<<"$out" >&2
        return 1
    fi
    awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' <<<"$out"
}
closure_readelf() {
    local -A seen=()
    local todo=("$1") file needed dir found
    while [ ${#todo[@]} -gt 0 ]; do
        file=${todo[0]}; todo=("${todo[@]:1}")
        while read -r needed; do
            if [ -z "$needed" ] || [ -n "${seen[$needed]+set}" ]; then continue; fi
            seen[$needed]=1
            found=""
            for dir in "/lib/$multiarch" "/usr/lib/$multiarch"; do
                if [ -e "$dir/$needed" ]; then found=$dir/$needed; break; fi
            done
            if [ -z "$found" ]; then
                is_provided "$needed" && continue
                echo "$0: $1: library not found: $needed (in /lib/$multiarch, /usr/lib/$multiarch)" >&2
                return 1
            fi
            echo "$needed $found"
            todo+=("$found")
        done < <(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    done
}

if [ "$machine" = "$(uname -m)" ]; then closure=closure_ldd; else closure=closure_readelf; fi
libs=$("$closure" "$binary") || exit 1
while read -r soname path; do
    [ -n "$soname" ] || continue
    is_provided "$soname" && continue
    # copy the file itself under its soname (ldd shows symlinks' names)
    cp -L "$path" "$stage/lib/$soname"
    chmod 0644 "$stage/lib/$soname"
done <<<"$libs"

# Strip debug info: a smaller zip uploads and cold-starts faster; the binary in bin/ keeps its symbols.
strip_tool="strip"
if [ "$machine" != "$(uname -m)" ] && command -v "$multiarch-strip" >/dev/null; then strip_tool=$multiarch-strip; fi
"$strip_tool" --strip-unneeded "$stage/bootstrap" "$stage"/lib/* 2>/dev/null || true

mkdir -p "$(dirname "$zip_path")"
rm -f "$zip_path"
abs_zip=$(cd "$(dirname "$zip_path")" && pwd)/$(basename "$zip_path")
(cd "$stage" && zip -q -X -r "$abs_zip" bootstrap lib)
echo "make-lambda-package: $zip_path: bootstrap + $(find "$stage/lib" -type f | wc -l) libraries," \
     "$(du -k "$zip_path" | cut -f1) KiB"
