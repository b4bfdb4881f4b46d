# Ends the task (its whole process group: the deployer's group, which launchers such as
# start-stop-daemon may give another number than its pid) and prints the record.
# Arguments: DIR JOB PID TASK_PID RECORD DEPLOYER_LOG FILES, then UNIT (systemd-run's).
# As in check.sh: in another user's work directory everything is done as that user, and
# only their deployer of this directory is the task (a forged pid file names nothing).
D=$1 job=$2 pid=$3 record=$5 files=$7
shift 7
unit=$1
owner=$(stat -c %u -- "$D" 2>/dev/null) || owner=0
bin=${D%/targets/*}/bin
as_owner() {
  if [ "$(id -u)" != 0 ] || [ "$owner" = 0 ]; then "$@"; else runuser -u "$(stat -c %U -- "$D")" -- "$@"; fi
}
task() {
  for p in $(as_owner cat "$D/$pid" 2>/dev/null) $(pgrep -u "$owner" drover-deploy 2>/dev/null); do
    case $p in '' | *[!0-9]*) continue ;; esac
    [ "$(stat -c %u "/proc/$p" 2>/dev/null)" = "$owner" ] || continue
    c=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
    case $c in "$bin/drover-deployer-"*" run $D " | *" $bin/drover-deployer-"*" run $D ") ;; *) continue ;; esac
    echo "$p"
    return 0
  done
  return 1
}
if p=$(task); then
  g=$(sed 's/.*) //' "/proc/$p/stat" | cut -d' ' -f3)
  # shellcheck disable=SC2016 # expanded by the inner shell
  as_owner sh -c 'kill -TERM "-$1" 2>/dev/null; sleep 1; kill -KILL "-$1" 2>/dev/null' sh "$g" || true
fi
if command -v systemctl >/dev/null 2>&1; then systemctl stop "$unit" >/dev/null 2>&1 || true; fi
as_owner rm -rf "${D:?}/$job" "${D:?}/$files" "${D:?}/$pid"
as_owner cat "$D/$record" 2>/dev/null || true
