"""Finding a rerobotsfs mount and the driver processes behind it, for any suite."""

import os


def is_mounted(path):
    path = str(path)
    with open("/proc/self/mountinfo") as mountinfo:
        return any(line.split()[4] == path for line in mountinfo)


def pids_of(program, argument):
    """The pids of the processes running program (a file name) with argument on their command
    line."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except (FileNotFoundError, NotADirectoryError, ProcessLookupError, PermissionError):
            continue
        if argv[0].endswith(os.fsencode(program)) and os.fsencode(argument) in argv:
            pids.append(int(entry))
    return pids


def driver_pids(mountpoint):
    """The rerobotsfs processes whose command line names mountpoint."""
    return pids_of("rerobotsfs", mountpoint)
