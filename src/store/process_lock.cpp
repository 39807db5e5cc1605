#include "store/process_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cxg/store/store.hpp"

namespace cxg::store::sqlite {

ProcessLock::ProcessLock(const std::string& db_path) {
  const std::string lock_path = lock_path_for(db_path);
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw StoreError("cannot open lock file " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  const int error = errno;
  ::close(fd_);
  fd_ = -1;
  if (error == EWOULDBLOCK) {
    throw StoreError("database " + db_path + " is in use by another cxg process (lock " +
                     lock_path + ")");
  }
  throw StoreError("cannot lock " + lock_path + ": " + std::strerror(error));
}

ProcessLock::~ProcessLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace cxg::store::sqlite
