#!/usr/bin/env bash
# check-lambda-package.sh ZIP — fails loudly unless ZIP runs on AWS Lambda's provided.al2023 runtime:
#   - `bootstrap` sits at the top of the zip, is an ELF executable and has its executable bit;
#   - every ELF file in it (bootstrap, lib/*) is of one machine (x86-64 or AArch64), and every shared library any of
#     them needs is either in the zip's lib/ or one the runtime image itself provides (glibc's libraries, libgcc_s);
#   - no ELF file needs a glibc symbol version newer than the image's glibc (GLIBC_MAX, default 2.34).
# Exit 0 and one "OK" line when all hold; otherwise one line per violation on stderr and exit 1.
# Needs: unzip, readelf, objdump (binutils).
set -euo pipefail

GLIBC_MAX=${GLIBC_MAX:-2.34}
# What provided.al2023 has in /lib64 that a package must not (and need not) bring: glibc and libgcc_s.
PROVIDED_LIBS=(libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libresolv.so.2
               libutil.so.1 libanl.so.1 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1 libgcc_s.so.1)
is_provided() { local lib; for lib in "${PROVIDED_LIBS[@]}"; do [ "$1" = "$lib" ] && return 0; done; return 1; }

usage() { echo "usage: $0 PACKAGE.zip" >&2; exit 2; }
[ $# -eq 1 ] || usage
zip_path=$1
[ -f "$zip_path" ] || { echo "$0: $zip_path: no such file" >&2; exit 2; }

violations=0
violation() { echo "check-lambda-package: $zip_path: $*" >&2; violations=$((violations + 1)); }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unzip -q "$zip_path" -d "$work"

is_elf() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' \n')" = "177ELF" ]; }

if [ ! -f "$work/bootstrap" ]; then
    violation "no bootstrap at the top of the zip"
else
    is_elf "$work/bootstrap" || violation "bootstrap is not an ELF file"
    # unzip restores the permission bits the zip recorded
    [ -x "$work/bootstrap" ] || violation "bootstrap is not executable in the zip"
fi

mapfile -t elf_files < <(cd "$work" && find . -type f | sort | while read -r f; do
    if [ "$(head -c 4 "$f" | od -An -c | tr -d ' \n')" = "177ELF" ]; then echo "${f#./}"; fi; done)
[ ${#elf_files[@]} -gt 0 ] || violation "no ELF file in the zip"

machines=""
for f in "${elf_files[@]}"; do
    machine=$(readelf -h "$work/$f" | sed -n 's/^ *Machine: *//p')
    case $machine in
        *X86-64*|*AArch64*) ;;
        *) violation "$f: machine '$machine' is neither x86-64 nor AArch64" ;;
    esac
    machines=$(printf '%s\n%s\n' "$machines" "$machine" | sed '/^$/d' | sort -u)

    # Every DT_NEEDED must be provided by the image or bundled in lib/.
    while read -r needed; do
        [ -n "$needed" ] || continue
        if is_provided "$needed"; then continue; fi
        [ -f "$work/lib/$needed" ] || violation "$f needs $needed, which is neither in lib/ nor in provided.al2023"
    done < <(readelf -d "$work/$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')

    # Every undefined dynamic symbol bound to a glibc version newer than GLIBC_MAX (objdump -T: "(GLIBC_2.xx)").
    while read -r sym_version sym_name; do
        violation "$f needs $sym_name@GLIBC_$sym_version, newer than provided.al2023's glibc $GLIBC_MAX"
    done < <(objdump -T "$work/$f" | awk -v max="$GLIBC_MAX" '
                 function newer(a, b,    x, y, i, n) {   # dotted versions: is a > b ?
                     n = split(a, x, "."); split(b, y, ".")
                     for (i = 1; i <= (n > 3 ? n : 3); i++) if (x[i] + 0 != y[i] + 0) return x[i] + 0 > y[i] + 0
                     return 0
                 }
                 /\*UND\*/ && match($0, /GLIBC_[0-9.]+/) {
                     v = substr($0, RSTART + 6, RLENGTH - 6)
                     if (newer(v, max)) print v, $NF
                 }' | sort -u)
done

if [ "$(printf '%s\n' "$machines" | sed '/^$/d' | wc -l)" -gt 1 ]; then
    violation "ELF files of more than one machine: $(printf '%s' "$machines" | tr '\n' ',')"
fi

if [ "$violations" -gt 0 ]; then
    echo "check-lambda-package: $zip_path: FAILED with $violations violation(s)" >&2
    exit 1
fi
echo "check-lambda-package: $zip_path: OK (${#elf_files[@]} ELF files, $(printf '%s' "$machines"), glibc <= $GLIBC_MAX)"
