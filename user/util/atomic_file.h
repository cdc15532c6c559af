// Every file cwtrace writes (-o, render -o, --metrics-textfile), written so that another account
// able to write the same directory (a shared output directory, node_exporter's textfile
// directory) can neither make cwtrace write through a link it planted nor read a half-written
// file: a nameless temporary in the target's directory (O_TMPFILE, else a random name created
// O_EXCL|O_NOFOLLOW), written, fsynced, then renamed over the target. The directory entry at
// the target is replaced, never followed: a symlink there is replaced, the file it named left
// as it was. A character device (/dev/null, /dev/full) is written in place.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "util/result.h"

namespace cwtrace {

class AtomicFile {
  public:
    // A writer for `path`, given `mode` (not masked by the umask) once committed.
    static Result<AtomicFile> open(const std::string& path, mode_t mode = 0600);
    AtomicFile(AtomicFile&& other) noexcept;
    AtomicFile& operator=(AtomicFile&&) = delete;
    ~AtomicFile();  // not committed: the temporary is discarded, the target left as it was

    // Buffered; false once a write has failed (commit() then says why).
    bool write(std::string_view bytes);
    // Flushes, fsyncs and puts the file at its path (the directory fsynced too).
    Result<void> commit();

  private:
    AtomicFile(std::string path, mode_t mode) : path_(std::move(path)), mode_(mode) {}
    bool flush();
    Error failure(const std::string& what, int error) const;
    Result<void> link_over_target();

    std::string path_;
    mode_t mode_;
    int dir_fd_ = -1;       // the target's directory, held so that every step acts in it
    int fd_ = -1;           // the temporary (or the character device)
    std::string tmp_name_;  // the temporary's name in dir_fd_; empty while it has none
    bool in_place_ = false;
    int errno_ = 0;  // the first write's failure
    std::string buffer_;
};

// The whole of `bytes` at `path`, as above.
Result<void> write_file_atomically(const std::string& path, std::string_view bytes,
                                   mode_t mode = 0600);

}  // namespace cwtrace
