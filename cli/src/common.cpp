// common.cpp - store opening, argument splitting and file I/O for hardenctl.
#include "common.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <system_error>

#include "harden/policy/ascii.hpp"

namespace harden::cli {
namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

void check_store_file(const fs::path& path, Access access) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    throw UsageError(fmt::format("cannot access store {}: {}", path.string(), ec.message()));
  }
  if (!fs::exists(st)) {
    throw UsageError(fmt::format("no policy store at {}; create one with: hardenctl init --db {}",
                                 path.string(), path.string()));
  }
  if (fs::is_directory(st)) {
    throw UsageError(fmt::format("{} is a directory, not a policy store file", path.string()));
  }
  if (!fs::is_regular_file(st)) {
    throw UsageError(fmt::format("{} is not a regular file, not a policy store", path.string()));
  }
  if (access == Access::write && ::access(path.c_str(), W_OK) != 0) {
    throw UsageError(
        fmt::format("policy store {} is not writable: {}", path.string(), errno_text(errno)));
  }
}

// Store errors that do not say which store get its path in front.
[[noreturn]] void rethrow_naming(const fs::path& path, const std::exception& e) {
  const std::string msg = e.what();
  if (msg.find(path.string()) != std::string::npos) throw UsageError(msg);
  throw UsageError(fmt::format("{}: {}", path.string(), msg));
}

std::string read_bounded(std::istream& in, const std::string& name) {
  std::string text;
  std::array<char, 64 * 1024> buf{};
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    text.append(buf.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxInputFileBytes) {
      throw UsageError(fmt::format("{}: file is larger than {} bytes", name, kMaxInputFileBytes));
    }
  }
  if (in.bad()) throw UsageError(fmt::format("{}: read error", name));
  return text;
}

void write_all(int fd, std::string_view text, const std::string& name) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw UsageError(fmt::format("cannot write {}: {}", name, errno_text(errno)));
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

fs::path store_path(const Globals& g) {
  if (g.db.empty()) throw UsageError("--db: the store path is empty");
  return fs::path(g.db);
}

[[noreturn]] void throw_not_initialized(const fs::path& path) {
  throw UsageError(fmt::format("policy store {} is not initialized; run: hardenctl init --db {}",
                               path.string(), path.string()));
}

db::Store open_store(const Globals& g, Access access, Need need) {
  const fs::path path = store_path(g);
  check_store_file(path, access);
  std::error_code ec;
  if (need == Need::initialized && fs::file_size(path, ec) == 0 && !ec) {
    throw_not_initialized(path);  // and do not turn the empty file into a store
  }
  const auto mode =
      access == Access::write ? db::Store::Mode::read_write : db::Store::Mode::read_only;
  try {
    db::Store store = db::Store::open(path, mode);
    if (need == Need::initialized && !store.initialized()) throw_not_initialized(path);
    return store;
  } catch (const db::DbError& e) {
    rethrow_naming(path, e);
  }
}

Assignment split_assignment(std::string_view arg) {
  const auto eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw UsageError(fmt::format("expected attribute=value, got '{}'", arg));
  }
  return {std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1))};
}

std::string read_input_file(const fs::path& path) {
  if (path == "-") return read_bounded(std::cin, "stdin");
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    throw UsageError(
        fmt::format("cannot read {}: {}", path.string(), ec ? ec.message() : "no such file"));
  }
  if (fs::is_directory(st)) throw UsageError(fmt::format("{} is a directory", path.string()));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("cannot open {}: {}", path.string(), errno_text(errno)));
  return read_bounded(in, path.string());
}

bool LineReader::next(std::string& line, bool& too_long) {
  line.clear();
  too_long = false;
  std::streambuf* buf = in_.rdbuf();
  bool any = false;
  for (;;) {
    const auto ch = buf->sbumpc();
    if (ch == std::char_traits<char>::eof()) break;
    any = true;
    if (ch == '\n') break;
    if (line.size() < max_len_) {
      line += std::char_traits<char>::to_char_type(ch);
    } else {
      too_long = true;
    }
  }
  if (!any) return false;
  ++line_no_;
  if (!too_long && !line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

std::unique_ptr<std::istream> open_input_stream(const std::string& path) {
  if (path == "-") return std::make_unique<std::istream>(std::cin.rdbuf());
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    throw UsageError(fmt::format("cannot read {}: {}", path, ec ? ec.message() : "no such file"));
  }
  if (fs::is_directory(st)) throw UsageError(fmt::format("{} is a directory", path));
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*in) throw UsageError(fmt::format("cannot open {}: {}", path, errno_text(errno)));
  return in;
}

void write_output_file(const fs::path& path, std::string_view text, std::optional<mode_t> mode) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw UsageError(fmt::format("{} is a directory", path.string()));
  fs::path tmp = path;
  tmp += fmt::format(".tmp.{}", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw UsageError(fmt::format("cannot create {}: {}", tmp.string(), errno_text(errno)));
  }
  bool closed = false;
  try {
    if (mode && ::fchmod(fd, *mode) != 0) {
      throw UsageError(fmt::format("cannot chmod {}: {}", tmp.string(), errno_text(errno)));
    }
    write_all(fd, text, tmp.string());
    if (::fsync(fd) != 0) {
      throw UsageError(fmt::format("cannot write {}: {}", tmp.string(), errno_text(errno)));
    }
    closed = true;
    if (::close(fd) != 0) {
      throw UsageError(fmt::format("cannot write {}: {}", tmp.string(), errno_text(errno)));
    }
  } catch (...) {
    if (!closed) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw UsageError(fmt::format("cannot write {}: {}", path.string(), errno_text(err)));
  }
}

std::string escaped_line(std::string_view msg) {
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ' || msg.back() == '\r')) {
    msg.remove_suffix(1);
  }
  return ascii::escape(msg, {}, ascii::High::keep);
}

policy::UnixTime now() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

}  // namespace harden::cli
