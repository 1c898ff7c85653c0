#!/bin/busybox sh
# pid1.sh: PID 1 of the test guest once its init has switch_rooted into the host's
# root share (scripts/vm/guest/init). Runs main.sh with a clean environment, then saves
# the exit status and the kernel log into the job directory and powers off. Only
# busybox applets are used here: the host's own poweroff talks to systemd.
job=/run/devmem-e2e
uptime() { /bin/busybox cut -d' ' -f1 /proc/uptime; }

/usr/bin/env -i \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/tmp LANG=C.UTF-8 TERM=dumb \
  /bin/sh "$(/bin/busybox dirname "$0")/main.sh"
echo "$?" > "$job/guest-exit"

/bin/busybox dmesg > "$job/dmesg.txt"
echo "devmem-e2e-init: done after $(uptime) s"
/bin/busybox sync
/bin/busybox umount "$job"
/bin/busybox poweroff -f
