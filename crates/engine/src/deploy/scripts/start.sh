# Creates a task in one round trip in the common case: learns the host (the facts
# script, as the login user), picks this server's deployer for its architecture, the
# account and folder the task gets, and, when that deployer is already there and nothing
# needs the server's judgement, runs the launch script with the job on standard input
# (through `sudo -n` when the task needs root, the login user is not root and the
# credential has password-less sudo).
# Prints the facts, then either `start=launched LAUNCHER DIR` followed by the launch's output
# (`pid=N`; its exit status is this script's), or `start=server WHY` when the server goes
# on by itself from the facts (no deployer for this architecture, the deployer is not
# there yet, a password to check, a run mode that needs the server's rules, ...).
# Arguments: FACTS LAUNCH (the two scripts' texts) ROOT_BASE HOME_BASE NEED (user: the
# task runs as the login user; root: as root; server: the server decides) SUDO (1:
# `sudo -n` may give root) TARGET (the work directory, relative to its base) UNIT RESUME,
# the work directory's file names JOB PID TASK_PID RECORD DEPLOYER_LOG FILES STARTED,
# then ARCH=DEPLOYER_FILE for each build of the server (DEPLOYER_FILE relative to a base).
facts=$1 launch=$2 root_base=$3 home_base=$4 need=$5 sudo_ok=$6 target=$7 unit=$8 resume=$9
shift 9
job=$1 pid=$2 task_pid=$3 record=$4 log=$5 files=$6 started=$7
shift 7
builds="$*"
# the facts script takes the deployer files: they follow the pairs, which are dropped
n=$#
for b in "$@"; do set -- "$@" "${b#*=}"; done
shift "$n"
# (the facts and the launch run in this shell, not a new `sh` each: a process costs the
# target a fork and an exec)
out=$(set -- "$root_base" "$home_base" "$@" && eval "$facts" </dev/null)
st=$?
printf '%s\n' "$out"
[ "$st" = 0 ] || exit "$st"
uid='' home='' arch='' systemd='' has_sudo=''
while IFS= read -r l; do
  case $l in
    uid=*) uid=${l#uid=} ;;
    home=*) home=${l#home=} ;;
    arch=*) arch=${l#arch=} ;;
    systemd=*) systemd=1 ;;
    sudo=*) has_sudo=1 ;;
  esac
done <<EOF
$out
EOF
server() {
  echo "start=server $1"
  exit 0
}
file=''
# shellcheck disable=SC2086 # ARCH=FILE words, split
for b in $builds; do
  case $b in "$arch="*) file=${b#*=} ;; esac
done
[ -n "$file" ] || server "no deployer for $arch"
via='' as_root=0
case $need in
  user)
    if [ "$uid" = 0 ]; then
      base=$root_base
    else
      case $home in
        /*) base=${home%/}/$home_base ;;
        *) server "no home directory" ;;
      esac
    fi
    ;;
  root)
    base=$root_base as_root=1
    if [ "$uid" != 0 ]; then
      if [ "$sudo_ok" != 1 ] || [ -z "$has_sudo" ]; then server "sudo to check"; fi
      sudo -n true </dev/null >/dev/null 2>&1 || server "sudo refused"
      via=sudo
    fi
    ;;
  *) server "run mode" ;;
esac
[ -x "$base/$file" ] || server "deployer missing"
if [ "$as_root" = 1 ] && [ -n "$systemd" ]; then
  launcher='systemd-run'
else
  launcher=deployer
fi
D=$base/$target
echo "start=launched $launcher $D"
if [ -n "$via" ]; then
  exec sudo -n -- sh -c "$launch" drover-launch "$D" "$job" "$pid" "$task_pid" "$record" "$log" "$files" \
    "$base/$file" "$launcher" "$unit" "" "$resume" "$started"
fi
set -- "$D" "$job" "$pid" "$task_pid" "$record" "$log" "$files" \
  "$base/$file" "$launcher" "$unit" "" "$resume" "$started"
eval "$launch"
