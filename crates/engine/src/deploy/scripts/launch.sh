# Writes the job from standard input and creates the detached task; prints `pid=N`
# (or `ended=1` when the deployer already finished). It learns the pid without polling:
# the task's shell opens the FIFO STARTED for writing (which waits for this script to
# open it for reading, so that the end of file below comes only after both) and execs
# the deployer, which writes its pid there as it starts; the launch reads that one
# line, and the deployer's first report is its start. End of file instead
# (the exec failed, or the deployer stopped before it could say so) means it did not
# start: that is reported at once, with the error its log holds. A deployer that never
# opens the FIFO (a loaded machine that starts it late, a launcher that lost it) is waited
# for 30 s (under the 60 s a script may take).
# Arguments: DIR JOB PID TASK_PID RECORD DEPLOYER_LOG FILES (the work directory and its
# file names), then DEPLOYER LAUNCHER (systemd-run | start-stop-daemon | setsid) UNIT
# RUN_AS (a user to switch to, or empty), RESUME (1: the task resumes after a reboot
# step, so its record is kept: the deployer numbers its reports on from it) and STARTED
# (the FIFO's name in the work directory).
# With RUN_AS the work directory becomes that user's: it is made afresh (root's), the job
# written into it, and only then given to them; what the script reads back from it (pid,
# log) it reads as that user, so a link they plant there cannot make root read a file.
# A folder it cannot write (read-only, full) stops it with a `drover-fail=CODE` line on
# stderr (the server's failure code) and without the half-written job or work directory.
set -e
umask 077
D=$1 job=$2 pid=$3 task_pid=$4 record=$5 log=$6
shift 7
deployer=$1 launcher=$2 unit=$3 user=$4 resume=${5:-0} started=${6:-started}
# WHAT ERROR: removes the work directory (its job holds secrets) and stops, with the
# failure code the error output names (if any)
fail() {
  rm -rf "${D:?}"
  case $2 in
    *"Read-only file system"*) echo "drover-fail=read_only ${D%/*}" >&2 ;;
    *"No space left on device"* | *"Disk quota exceeded"*) echo "drover-fail=disk_full ${D%/*}" >&2 ;;
  esac
  echo "cannot $1: $2" >&2
  exit 1
}
# (errors in English: LC_ALL only for these commands, the task keeps the locale)
err=$( { LC_ALL=C mkdir -p "${D%/*}" && LC_ALL=C chmod 755 "${D%/*}"; } 2>&1) || fail "create ${D%/*}" "$err"
kept=
if [ "$resume" = 1 ]; then
  # read as its owner: a link planted there cannot make root read another file
  if [ -n "$user" ]; then kept=$(runuser -u "$user" -- cat "$D/$record" 2>/dev/null) || kept=; elif [ -O "$D" ]; then kept=$(cat "$D/$record" 2>/dev/null) || kept=; fi
fi
# a directory someone else owns (a user's, from an earlier run) is not written into
if [ -n "$user" ] || { [ -e "$D" ] && [ ! -O "$D" ]; }; then rm -rf "$D"; fi
# `resume` (a reboot step's) goes too: the job's start_at, from the server's record, says
# where the package goes on
err=$( { LC_ALL=C mkdir -p "$D" && LC_ALL=C rm -f "$D/$pid" "$D/$task_pid" "$D/$record" "$D/resume" "$D/$started" && LC_ALL=C mkfifo -m 600 "$D/$started"; } 2>&1) || fail "create $D" "$err"
if [ -n "$kept" ]; then
  err=$(LC_ALL=C printf '%s\n' "$kept" 2>&1 >"$D/$record") || fail "write the record to $D" "$err"
fi
# A resumed task's record and log are not empty: what counts below is that they grow.
size() { stat -c %s -- "$1" 2>/dev/null || echo 0; }
grown() { if [ "$2" = 0 ]; then [ -s "$1" ]; else [ "$(size "$1")" -gt "$2" ]; fi; }
r0=$(size "$D/$record")
err=$(LC_ALL=C cat 2>&1 >"$D/$job") || fail "write the job to $D" "$err"
if [ -n "$user" ]; then chown -R "$user" "$D"; fi
as_user() {
  if [ -n "$user" ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}
cd "$D"
# shellcheck disable=SC2016 # expanded by the inner shell
inner='exec 3>"$1/$3"; exec "$0" run "$1" >>"$1/$2" 2>&1'
case $launcher in
  systemd-run)
    if [ -n "$user" ]; then
      systemd-run --quiet --collect --unit="$unit" --uid="$user" -p WorkingDirectory="$D" /bin/sh -c "$inner" "$deployer" "$D" "$log" "$started"
    else
      systemd-run --quiet --collect --unit="$unit" -p WorkingDirectory="$D" /bin/sh -c "$inner" "$deployer" "$D" "$log" "$started"
    fi
    ;;
  start-stop-daemon)
    if [ -n "$user" ]; then
      start-stop-daemon --start --background --pidfile "$D/$task_pid" --chuid "$user" --chdir "$D" --startas /bin/sh -- -c "$inner" "$deployer" "$D" "$log" "$started"
    else
      start-stop-daemon --start --background --pidfile "$D/$task_pid" --chdir "$D" --startas /bin/sh -- -c "$inner" "$deployer" "$D" "$log" "$started"
    fi
    ;;
  setsid)
    if [ -n "$user" ]; then
      runuser -u "$user" -- setsid -f /bin/sh -c "$inner" "$deployer" "$D" "$log" "$started" </dev/null >/dev/null 2>&1
    else
      setsid -f /bin/sh -c "$inner" "$deployer" "$D" "$log" "$started" </dev/null >/dev/null 2>&1
    fi
    ;;
  *)
    echo "unknown launcher '$launcher'" >&2
    exit 1
    ;;
esac
# One line: the pid, written by the deployer as it starts; nothing: it did not start
p=$(as_user timeout 30 head -n 1 "$D/$started" 2>/dev/null) || p=
as_user rm -f "$D/$started" || true
case $p in
  '' | *[!0-9]*)
    if grown "$D/$record" "$r0"; then
      echo "ended=1"
    else
      # an executable deployer refused with "Permission denied": its folder is noexec
      if [ -x "$deployer" ] && as_user grep -q "Permission denied" "$D/$log" 2>/dev/null; then
        echo "drover-fail=noexec ${deployer%/*}" >&2
      fi
      echo "the deployer did not start:" >&2
      as_user tail -c 2000 "$D/$log" >&2 || true
      exit 1
    fi
    ;;
  *) echo "pid=$p" ;;
esac
find "${D%/*}" -mindepth 1 -maxdepth 1 -type d -mtime +14 -exec rm -rf {} + 2>/dev/null || true
