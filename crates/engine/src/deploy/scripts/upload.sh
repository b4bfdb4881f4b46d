# Reads the deployer from standard input, checks it arrived whole, installs it.
# Arguments: BASE DEPLOYER (absolute path, under BASE) SHA256 PACKED (gzip: the input is
# gzip-compressed, where the facts found gzip; plain: it is not)
# A folder it cannot write (read-only, full) or run programs from (noexec) stops it with
# a `drover-fail=CODE` line on stderr, which the server turns into that failure code;
# nothing half-written stays behind (the partial upload and the probe are removed).
set -e
umask 022
export LC_ALL=C
base=$1 dest=$2 sum=$3 packed=${4:-plain}
bin=${dest%/*}
t="$bin/.upload.$$" probe="$bin/.exec-probe.$$"
trap 'rm -f "$t" "$probe"' EXIT
# WHAT ERROR: stops, with the failure code the error output names (if any)
fail() {
  case $2 in
    *"Read-only file system"*) echo "drover-fail=read_only $bin" >&2 ;;
    *"No space left on device"* | *"Disk quota exceeded"*) echo "drover-fail=disk_full $bin" >&2 ;;
  esac
  echo "cannot $1: $2" >&2
  exit 1
}
err=$(mkdir -p "$bin" 2>&1) || fail "create $bin" "$err"
err=$(chmod 755 "$base" "$bin" 2>&1) || fail "set the mode of $bin" "$err"
# a folder mounted noexec takes files but runs none of them: found before the upload
err=$( { printf '#!/bin/sh\nexit 0\n' >"$probe" && chmod 755 "$probe"; } 2>&1) || fail "write to $bin" "$err"
if ! "$probe" 2>/dev/null; then
  echo "drover-fail=noexec $bin" >&2
  echo "cannot run programs from $bin (a file system mounted noexec)" >&2
  exit 1
fi
# (gzip checks the CRC-32 and length its stream ends with: a cut or damaged upload fails
# there, and the 4 MB are not read again for their SHA-256)
if [ "$packed" = gzip ]; then
  err=$(gzip -dc 2>&1 >"$t") || fail "write the deployer to $bin" "$err"
else
  err=$(cat 2>&1 >"$t") || fail "write the deployer to $bin" "$err"
  if [ "$(sha256sum "$t" | cut -d' ' -f1)" != "$sum" ]; then
    echo "deployer upload corrupted (its SHA-256 is not $sum)" >&2
    exit 1
  fi
fi
err=$( { chmod 755 "$t" && mv -f "$t" "$dest"; } 2>&1) || fail "install the deployer in $bin" "$err"
