#pragma once
// The single-process guard for a SQLite database (http-api.md §6, behaviour H5): an
// exclusive flock on <db>.lock, held for the lifetime of the store. flock locks belong to
// the open file description, so the kernel drops the lock when the process dies, and a
// second open in the same process conflicts as well.
#include <string>

namespace cxg::store::sqlite {

class ProcessLock {
 public:
  // Creates <db_path>.lock if needed and locks it without waiting. Throws StoreError when
  // another holder has it, or when the lock file cannot be opened.
  explicit ProcessLock(const std::string& db_path);
  ~ProcessLock();
  ProcessLock(const ProcessLock&) = delete;
  ProcessLock& operator=(const ProcessLock&) = delete;

  static std::string lock_path_for(const std::string& db_path) { return db_path + ".lock"; }

 private:
  int fd_ = -1;
};

}  // namespace cxg::store::sqlite
