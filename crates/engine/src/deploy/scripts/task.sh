# Checks or ends the task in a work directory, and prints its record.
#   check: prints the record and, while the deployer runs, the ALIVE marker; when it does
#          not run, removes what secrets and package files it may have left.
#   kill:  ends the task (its whole process group: the deployer's group, as its stat
#          says), then prints the record.
# Arguments: DIR JOB PID TASK_PID RECORD DEPLOYER_LOG FILES, then check ALIVE (the
# marker) or kill UNIT (systemd-run's).
# A work directory of another user (logged-on-user mode: the task runs as them, under
# the root base) holds only what that user controls: it is read and cleaned AS that user
# (`runuser`), so a link planted there cannot make root read or remove another file, and
# only a deployer of that user running this directory counts as the task, whatever the
# pid file says.
D=$1 job=$2 pid=$3 record=$5 files=$7
shift 7
verb=$1 extra=$2
owner=$(stat -c %u -- "$D" 2>/dev/null) || owner=0
bin=${D%/targets/*}/bin
as_owner() {
  if [ "$(id -u)" != 0 ] || [ "$owner" = 0 ]; then "$@"; else runuser -u "$(stat -c %U -- "$D")" -- "$@"; fi
}
# The deployer's pid: a process of the owner running the base's deployer on this directory.
task() {
  for p in $(as_owner cat "$D/$pid" 2>/dev/null) $(pgrep -u "$owner" drover-deploy 2>/dev/null); do
    case $p in '' | *[!0-9]*) continue ;; esac
    [ "$(stat -c %u "/proc/$p" 2>/dev/null)" = "$owner" ] || continue
    c=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
    # (`run` under systemd-run; `start` where the deployer forked the task itself)
    case $c in
      "$bin/drover-deployer-"*" run $D " | *" $bin/drover-deployer-"*" run $D ") ;;
      "$bin/drover-deployer-"*" start $D "* | *" $bin/drover-deployer-"*" start $D "*) ;;
      *) continue ;;
    esac
    echo "$p"
    return 0
  done
  return 1
}
case $verb in
  check)
    as_owner cat "$D/$record" 2>/dev/null || true
    if task >/dev/null; then
      echo "$extra"
    else
      as_owner rm -rf "${D:?}/$job" "${D:?}/$files"
    fi
    ;;
  kill)
    if p=$(task); then
      g=$(sed 's/.*) //' "/proc/$p/stat" | cut -d' ' -f3)
      # shellcheck disable=SC2016 # expanded by the inner shell
      as_owner sh -c 'kill -TERM "-$1" 2>/dev/null; sleep 1; kill -KILL "-$1" 2>/dev/null' sh "$g" || true
    fi
    if command -v systemctl >/dev/null 2>&1; then systemctl stop "$extra" >/dev/null 2>&1 || true; fi
    as_owner rm -rf "${D:?}/$job" "${D:?}/$files" "${D:?}/$pid"
    as_owner cat "$D/$record" 2>/dev/null || true
    ;;
  *)
    echo "task.sh: unknown verb '$verb' (check or kill)" >&2
    exit 2
    ;;
esac
