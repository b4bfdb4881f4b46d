# Starts the package's final action after its delay, detached, so that the SSH session
# ends first; logged-on users are told with `wall` when a warning is given.
# Arguments: ACTION (reboot | poweroff | logoff) DELAY_SECS WARNING (or empty)
case $1 in
  reboot | poweroff | logoff) ;;
  *)
    echo "unknown final action '$1'" >&2
    exit 1
    ;;
esac
# shellcheck disable=SC2016 # expanded by the detached shell
setsid -f sh -c '
if [ -n "$3" ]; then echo "$3" | wall 2>/dev/null; fi
sleep "$2"
case $1 in
  reboot) reboot ;;
  poweroff) poweroff ;;
  logoff)
    for u in $(who | while read -r u _; do [ "$u" = root ] || echo "$u"; done | sort -u); do
      loginctl terminate-user "$u" 2>/dev/null || pkill -KILL -u "$u"
    done
    ;;
esac' drover-final-action "$1" "$2" "$3" </dev/null >/dev/null 2>&1
