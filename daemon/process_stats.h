// Memory figures of this process for Status: resident set, and how much of the model mapping
// is resident (the weights actually touched; the PLE table should stay mostly on disk).
#pragma once

#include <cstdint>

namespace gemmad::daemon {

// VmRSS from /proc/self/status, in bytes (0 if unreadable).
uint64_t resident_set_bytes();
// User + system CPU time of the whole process (every thread), seconds (getrusage).
double process_cpu_seconds();
// VmHWM (peak RSS), in bytes.
uint64_t peak_resident_set_bytes();
// Bytes of the mappings that overlap [data, data + size) that are in this process's resident
// set (/proc/self/smaps Rss): the pages it touched, not what the page cache holds.
uint64_t resident_bytes_of(const void* data, uint64_t size);

}  // namespace gemmad::daemon
