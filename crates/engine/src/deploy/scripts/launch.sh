# Writes the job from standard input and creates the detached task; prints `pid=N`
# (or `ended=1` when the deployer already finished). It learns the pid without polling.
# LAUNCHER `deployer`: the deployer starts its task itself (`drover-deployer start`: a
# fork of itself in the background, in a session of its own, its output in its log) and
# prints the pid; an exit status other than 0 means no task was started. Without RUN_AS
# it also makes the directory and writes the job.
# LAUNCHER `systemd-run` (root on a systemd machine: the task is a unit of its own,
# outside the SSH session's cgroup): the unit's shell opens the FIFO STARTED for writing
# (which waits for this script to open it for reading, so that the end of file below
# comes only after both) and execs the deployer, which writes its pid there as it starts;
# the launch reads that one line, and the deployer's first report is its start. End of
# file instead (the exec failed, or the deployer stopped before it could say so) means it
# did not start: that is reported at once, with the error its log holds. A deployer that
# never opens the FIFO (a loaded machine that starts it late) is waited for 30 s (under
# the 60 s a script may take).
# Arguments: DIR JOB PID TASK_PID RECORD DEPLOYER_LOG FILES (the work directory and its
# file names), then DEPLOYER LAUNCHER (deployer | systemd-run) UNIT
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
# (programs only where they have work: every process costs the target a fork and an exec)
if [ ! -d "${D%/*}" ]; then
  err=$( { LC_ALL=C mkdir -p "${D%/*}" && LC_ALL=C chmod 755 "${D%/*}"; } 2>&1) || fail "create ${D%/*}" "$err"
fi
# A task that already runs in this directory (the same target launched again: another
# node took it over between its claim and this launch) is this launch's too: its pid, and
# nothing written or started, so the package never runs twice at once. (Only in a
# directory of this user's: another user's is made afresh below.)
if [ -z "$user" ] && [ -O "$D" ] && [ ! -L "$D" ] && [ -O "$D/$pid" ] && read -r p 2>/dev/null <"$D/$pid"; then
  case $p in
    '' | *[!0-9]*) ;;
    *)
      c=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || c=
      case $c in
        "${deployer%/*}/drover-deployer-"*" run $D " | *" ${deployer%/*}/drover-deployer-"*" run $D " | \
          "${deployer%/*}/drover-deployer-"*" start $D "* | *" ${deployer%/*}/drover-deployer-"*" start $D "*)
          if [ -O "/proc/$p" ]; then
            echo "pid=$p"
            exit 0
          fi
          ;;
      esac
      ;;
  esac
fi
kept=
if [ "$resume" = 1 ]; then
  # read as its owner: a link planted there cannot make root read another file
  if [ -n "$user" ]; then kept=$(runuser -u "$user" -- cat "$D/$record" 2>/dev/null) || kept=; elif [ -O "$D" ]; then kept=$(cat "$D/$record" 2>/dev/null) || kept=; fi
fi
# a directory someone else owns (a user's, from an earlier run) is not written into
if [ -n "$user" ] || { [ -e "$D" ] && [ ! -O "$D" ]; }; then rm -rf "$D"; fi
# `resume` (a reboot step's) goes too: the job's start_at, from the server's record, says
# where the package goes on
old=
if [ -d "$D" ]; then
  for f in "$pid" "$task_pid" "$record" resume "$started"; do
    if [ -e "$D/$f" ] || [ -L "$D/$f" ]; then old=1; fi
  done
fi
# where the deployer starts the task as this user, it makes the directory and writes the
# job itself (`start DIR LOG JOB`, the job on this script's input): no `mkdir`, no `cat`
writes=
if [ "$launcher" = deployer ] && [ -z "$user" ]; then writes=1; fi
if [ -z "$writes" ] || [ -d "$D" ]; then
  err=$( {
    { [ -d "$D" ] || LC_ALL=C mkdir -p "$D"; } &&
      { [ -z "$old" ] || LC_ALL=C rm -f "$D/$pid" "$D/$task_pid" "$D/$record" "$D/resume" "$D/$started"; } &&
      { [ "$launcher" != systemd-run ] || LC_ALL=C mkfifo -m 600 "$D/$started"; }
  } 2>&1) || fail "create $D" "$err"
fi
if [ -n "$kept" ]; then
  err=$(LC_ALL=C printf '%s\n' "$kept" 2>&1 >"$D/$record") || fail "write the record to $D" "$err"
fi
# A resumed task's record and log are not empty: what counts below is that they grow.
size() { stat -c %s -- "$1" 2>/dev/null || echo 0; }
grown() { if [ "$2" = 0 ]; then [ -s "$1" ]; else [ "$(size "$1")" -gt "$2" ]; fi; }
r0=0
if [ -n "$kept" ]; then r0=$(size "$D/$record"); fi
if [ -z "$writes" ]; then
  err=$(LC_ALL=C cat 2>&1 >"$D/$job") || fail "write the job to $D" "$err"
fi
if [ -n "$user" ]; then chown -R "$user" "$D"; fi
as_user() {
  if [ -n "$user" ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}
if [ -d "$D" ]; then cd "$D"; fi
if [ "$launcher" = deployer ]; then
  st=0
  as_user "$deployer" start "$D" "$log" ${writes:+"$job"} || st=$?
  if [ "$st" = 0 ]; then exit 0; fi
  # an executable deployer the shell could not run: its folder is noexec
  if [ "$st" = 126 ] && [ -x "$deployer" ]; then echo "drover-fail=noexec ${deployer%/*}" >&2; fi
  echo "the deployer did not start (exit status $st)" >&2
  exit 1
fi
if [ "$launcher" != systemd-run ]; then
  echo "unknown launcher '$launcher'" >&2
  exit 1
fi
# shellcheck disable=SC2016 # expanded by the inner shell
inner='exec 3>"$1/$3"; exec "$0" run "$1" >>"$1/$2" 2>&1'
if [ -n "$user" ]; then
  systemd-run --quiet --collect --unit="$unit" --uid="$user" -p WorkingDirectory="$D" /bin/sh -c "$inner" "$deployer" "$D" "$log" "$started"
else
  systemd-run --quiet --collect --unit="$unit" -p WorkingDirectory="$D" /bin/sh -c "$inner" "$deployer" "$D" "$log" "$started"
fi
# One line: the pid, written by the deployer as it starts (it removes the FIFO then);
# nothing: it did not start
p=$(as_user timeout 30 head -n 1 "$D/$started" 2>/dev/null) || p=
case $p in
  '' | *[!0-9]*)
    as_user rm -f "$D/$started" || true
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
