# Ends the task (its whole process group: the deployer's group, which launchers such as
# start-stop-daemon may give another number than its pid) and prints the record.
# Arguments: DIR JOB PID TASK_PID RECORD DEPLOYER_LOG FILES, then UNIT (systemd-run's).
D=$1 job=$2 pid=$3 record=$5 files=$7
shift 7
unit=$1
p=$(cat "$D/$pid" 2>/dev/null || true)
if [ -n "$p" ] && grep -q drover-deployer "/proc/$p/cmdline" 2>/dev/null; then
  g=$(sed 's/.*) //' "/proc/$p/stat" | cut -d' ' -f3)
  kill -TERM "-$g" 2>/dev/null || true
  sleep 1
  kill -KILL "-$g" 2>/dev/null || true
fi
if command -v systemctl >/dev/null 2>&1; then systemctl stop "$unit" >/dev/null 2>&1 || true; fi
rm -rf "${D:?}/$job" "${D:?}/$files" "${D:?}/$pid"
cat "$D/$record" 2>/dev/null || true
