# Reads the deployer from standard input, checks its SHA-256, installs it.
# Arguments: BASE DEPLOYER (absolute path, under BASE) SHA256
set -e
umask 022
base=$1 dest=$2 sum=$3
bin=${dest%/*}
mkdir -p "$bin"
chmod 755 "$base" "$bin"
t="$bin/.upload.$$"
cat >"$t"
if [ "$(sha256sum "$t" | cut -d' ' -f1)" != "$sum" ]; then
  rm -f "$t"
  echo "deployer upload corrupted (its SHA-256 is not $sum)" >&2
  exit 1
fi
chmod 755 "$t"
mv -f "$t" "$dest"
