# Learns what an inventory scan keeps about the host, as the login user; changes nothing.
# Run only by scans (a deployment's facts script stays cheap). Prints key=value lines;
# tab-separated fields in `if=`, `addr=`, `disk=` and `pkg=`. No arguments.
if read -r h </proc/sys/kernel/hostname 2>/dev/null; then echo "hostname=$h"; else echo "hostname=$(hostname)"; fi
fq=$(hostname -f 2>/dev/null) && echo "fqdn=$fq"
# shellcheck source=/dev/null
if [ -r /etc/os-release ]; then ( . /etc/os-release; echo "os=${PRETTY_NAME:-$NAME}"; echo "os_version=${VERSION_ID:-}" ); fi
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
while IFS= read -r l; do
  case $l in "model name"*) echo "cpu_model=${l#*: }"; break ;; esac
done </proc/cpuinfo
n=0
while IFS= read -r l; do case $l in processor*) n=$((n + 1)) ;; esac; done </proc/cpuinfo
echo "cpu_count=$n"
while read -r k v _; do if [ "$k" = MemTotal: ]; then echo "mem_kb=$v"; break; fi; done </proc/meminfo
if read -r up _ </proc/uptime; then echo "uptime=$up"; fi
echo "now=$(date +%s)"
if [ -r /etc/machine-id ] && read -r m </etc/machine-id; then echo "machine_id=$m"; fi
for d in /sys/class/net/*; do
  m=
  if [ -r "$d/address" ]; then read -r m <"$d/address"; fi
  printf 'if=%s\t%s\n' "${d##*/}" "$m"
done
if command -v ip >/dev/null 2>&1; then
  ip -o addr show 2>/dev/null | while read -r _ dev fam a _; do
    case $fam in inet | inet6) printf 'addr=%s\t%s\n' "${dev%%@*}" "$a" ;; esac
  done
fi
{ df -P -k -l -x tmpfs -x devtmpfs -x squashfs 2>/dev/null || df -P -k 2>/dev/null; } | while read -r _ size _ free _ mnt; do
  case $size in *[!0-9]* | '') ;; *) printf 'disk=%s\t%s\t%s\n' "$mnt" "$size" "$free" ;; esac
done
# user=NAME<TAB>login time (epoch seconds; empty when `date -d` cannot read who's time,
# `Nov 30 09:51` in the C locale, before a `(remote host)`)
if command -v who >/dev/null 2>&1; then
  LC_ALL=C who | while read -r u _ when; do
    s=$(LC_ALL=C date -d "${when%%(*}" +%s 2>/dev/null) || s=
    printf 'user=%s\t%s\n' "$u" "$s"
  done
fi
# what kind of machine: container=/vm= name what runs it, chassis= the SMBIOS chassis type
if command -v systemd-detect-virt >/dev/null 2>&1; then
  c=$(systemd-detect-virt --container 2>/dev/null) && echo "container=$c"
  v=$(systemd-detect-virt --vm 2>/dev/null) && echo "vm=$v"
else
  if [ -e /.dockerenv ]; then
    echo "container=docker"
  elif [ -e /run/.containerenv ]; then
    echo "container=podman"
  elif [ -r /run/systemd/container ] && read -r c </run/systemd/container; then
    echo "container=$c"
  elif [ -r /proc/1/environ ] && tr '\000' '\n' </proc/1/environ 2>/dev/null | grep -q '^container='; then
    echo "container=yes"
  fi
  while IFS= read -r l; do
    case $l in flags*) case " $l " in *" hypervisor "*) echo "vm=hypervisor" ;; esac; break ;; esac
  done </proc/cpuinfo
fi
if [ -r /sys/class/dmi/id/chassis_type ] && read -r ch </sys/class/dmi/id/chassis_type; then echo "chassis=$ch"; fi
# a reboot is pending: Debian/Ubuntu's marker file, else RHEL's needs-restarting -r (exit 1)
if [ -e /var/run/reboot-required ]; then
  echo "pending_reboot=1"
elif command -v needs-restarting >/dev/null 2>&1; then
  needs-restarting -r >/dev/null 2>&1
  case $? in 0) echo "pending_reboot=0" ;; 1) echo "pending_reboot=1" ;; esac
elif command -v dpkg-query >/dev/null 2>&1; then
  echo "pending_reboot=0"
fi
if command -v dpkg-query >/dev/null 2>&1; then
  echo "pm=dpkg"
  # shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
  dpkg-query -W -f='pkg=${db:Status-Status}\t${binary:Package}\t${Version}\n' 2>/dev/null
elif command -v rpm >/dev/null 2>&1; then
  echo "pm=rpm"
  rpm -qa --qf 'pkg=installed\t%{NAME}\t%{VERSION}-%{RELEASE}\n' 2>/dev/null
fi
