// Crash-safe file replacement: write a temp file beside the target, fsync it, rename it
// over the target, fsync the directory. After a power cut the target holds the old
// content or the new, never a mix. On failure the target is untouched, the temp file is
// removed, and the error names the target and the step that failed. A process killed
// mid-write leaves its temp file (PATH.tmp.XXXXXX) behind; nothing removes it.
#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"

namespace edgeclr {

Status write_file_atomically(const std::string& path, const void* data, size_t size);

// ---- Test-only fault injection -------------------------------------------------------
// The steps of write_file_atomically, in order. kWrite comes before every write() call
// (one, unless interrupted; none for empty data); kClose is checked after the descriptor
// is really closed.
enum class AtomicWriteStep { kCreateTemp, kWrite, kFsync, kClose, kRename, kFsyncDirectory };

// Called before each step with the target path. Returning an errno value (e.g. ENOSPC
// for a full disk) makes that step fail as if the system call had returned it; 0 lets
// the step run; kShortWrite, at kWrite only, makes that write() store half of what it
// was asked (at least one byte) and return that count, as a disk that fills up does
// before it answers ENOSPC. A failed kFsyncDirectory is ignored, as a real one is (best
// effort).
inline constexpr int kShortWrite = -1;
using AtomicWriteFaultHook = int (*)(AtomicWriteStep step, const std::string& path);

// FOR TESTS ONLY (tests/unit/test_atomic_file.cpp, tests/crash/): nothing in the runtime
// or the tools sets it. Unset (nullptr), it costs one relaxed atomic load per step. Set
// it only while no other thread is inside write_file_atomically; reset it to nullptr.
void set_atomic_write_fault_hook_for_testing(AtomicWriteFaultHook hook);

}  // namespace edgeclr
