# Learns the host as the login user, and which of this server's deployer builds are
# installed.
# Shell built-ins where they do (`read` instead of `cat`): every process costs the
# target a fork and an exec, and a deployment runs this once per target.
# Arguments: ROOT_BASE HOME_BASE DEPLOYER_FILE... (relative to a base; one per build)
root_base=$1 home_base=$2
shift 2
# who: the real uid from /proc and the name the SSH server put in $USER; `id` where
# either is missing
uid=''
while read -r k v _; do if [ "$k" = Uid: ]; then uid=$v && break; fi; done 2>/dev/null </proc/self/status
if [ -n "$uid" ] && [ -n "$USER" ]; then
  echo "uid=$uid"
  echo "user=$USER"
else
  id | { read -r ids; u=${ids#uid=}; echo "uid=${u%%(*}"; u=${ids#*(}; echo "user=${u%%)*}"; }
fi
echo "home=$HOME"
if read -r h 2>/dev/null </proc/sys/kernel/hostname; then echo "hostname=$h"; else echo "hostname=$(hostname)"; fi
# (the kernel's architecture: /proc has it from Linux 6.1, the same as `uname -m` prints
# for these two; elsewhere, 32-bit ARM say, `uname -m` names the processor more closely)
if read -r a 2>/dev/null </proc/sys/kernel/arch && { [ "$a" = x86_64 ] || [ "$a" = aarch64 ]; }; then
  echo "arch=$a"
else
  echo "arch=$(uname -m)"
fi
# (os-release read with `read`, not sourced in a subshell: its values are quoted with
# " or ' at most)
if [ -r /etc/os-release ]; then
  pretty='' id='' vid=''
  while IFS='=' read -r k v || [ -n "$k" ]; do
    v=${v#[\"\']} v=${v%[\"\']}
    case $k in PRETTY_NAME) pretty=$v ;; ID) id=$v ;; VERSION_ID) vid=$v ;; esac
  done </etc/os-release
  echo "os=${pretty:-$id $vid}"
fi
for f in /sys/class/net/*/address; do [ -r "$f" ] && read -r m <"$f" && echo "mac=$m"; done
# Sessions, with where they are (the engine picks the console user from them): utmp's
# lines as `who=USER LINE DATE TIME [(HOST)]`, logind's as `logind=ID<TAB>Key=Value...`.
# (`who` only where it can find any: utmp, or logind on a systemd machine)
if { [ -s /run/utmp ] || [ -s /var/run/utmp ] || [ -d /run/systemd/system ]; } && command -v who >/dev/null 2>&1; then LC_ALL=C who | while IFS= read -r l; do echo "who=$l"; done; fi
if [ -d /run/systemd/system ]; then
  if command -v loginctl >/dev/null 2>&1; then
    loginctl list-sessions --no-legend 2>/dev/null | while read -r s _; do
      printf 'logind=%s' "$s"
      loginctl show-session "$s" -p Name -p Type -p Remote -p Seat -p TTY -p Class -p State -p TimestampMonotonic 2>/dev/null |
        while IFS= read -r p; do printf '\t%s' "$p"; done
      echo
    done
  fi
  if command -v systemd-run >/dev/null 2>&1; then echo systemd=1; fi
fi
if command -v sudo >/dev/null 2>&1; then echo sudo=1; fi
if command -v gzip >/dev/null 2>&1; then echo gzip=1; fi
echo "client=${SSH_CONNECTION%% *}"
# What identifies this boot, to see that a reboot step's restart happened: the kernel's
# boot id and the pid and start (clock ticks after boot) of this session's oldest ancestor
# below PID 1, the SSH server. A real reboot changes the first; a container or test host
# that restarts its processes and SSH server without a new kernel boot changes the rest.
boot_marker() {
  read -r b </proc/sys/kernel/random/boot_id 2>/dev/null || b=-
  p=$$ top=- start=-
  while [ "$p" -gt 1 ] 2>/dev/null && read -r st <"/proc/$p/stat" 2>/dev/null; do
    # shellcheck disable=SC2086 # the fields after the command name, split
    set -- ${st##*) }
    top=$p start=${20} p=$2
  done
  echo "boot=$b $top $start"
}
# a systemd machine that is shutting down has not restarted yet, whatever its processes say
if [ -d /run/systemd/system ] && [ "$(systemctl is-system-running 2>/dev/null)" = stopping ]; then
  echo "boot=stopping"
else
  boot_marker
fi
for deployer in "$@"; do
  if [ -x "$root_base/$deployer" ]; then echo "deployer=root:$deployer"; fi
  if [ -n "$HOME" ] && [ -x "$HOME/$home_base/$deployer" ]; then echo "deployer=home:$deployer"; fi
done
