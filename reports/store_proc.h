// store_proc: identity of a process, so the results store can tell whether the process that
// started a run is still alive (Linux /proc; elsewhere only the pid is checked).
//
// A process is identified by (host, boot id, pid namespace, pid, start time). The start time is
// field 22 of /proc/PID/stat (clock ticks after boot), so a pid recycled by a later process is
// not taken for the original; the boot id (/proc/sys/kernel/random/boot_id) tells a reboot apart;
// the pid namespace (/proc/self/ns/pid) tells apart containers that share a host name (e.g.
// with host networking), whose pids cannot be checked from each other.
// Nothing here throws; missing /proc data reads as 0 / "" (unknown).
#pragma once

#include <cstdint>
#include <string>

namespace sb::proc {

struct Identity {
  std::string host;     // gethostname()
  std::string boot_id;  // "" when unknown
  std::string pid_ns;   // e.g. "pid:[4026531836]"; "" when unknown
  int64_t pid = 0;
  int64_t start = 0;  // /proc/PID/stat field 22; 0 when unknown
};

// The calling process.
Identity self();

enum class Liveness { alive, dead, unknown };

// Whether the process recorded as `who` is still running, as seen by `me` (normally self()):
// unknown for another host or another pid namespace of this boot (its pids are not ours);
// dead when this host has rebooted since (boot ids differ), the pid does not exist or is a
// zombie, or a known start time differs from the pid's current one (recycled pid); otherwise
// alive (including a pid that exists but belongs to another user).
Liveness check(const Identity& who, const Identity& me);

// Parses the contents of a /proc/PID/stat line: state (field 3) and start time (field 22).
// Returns false when the line is malformed. The command name (field 2) may contain spaces and
// parentheses; it ends at the last ')'.
bool parse_stat(const std::string& line, char* state, int64_t* start);

}  // namespace sb::proc
