#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string>

#include "cosync/io.hpp"
#include "cosync/pool.hpp"

namespace cosync::io {
namespace {

constexpr std::string_view kUnixPrefix = "unix:";

[[noreturn]] void bad_address(std::string_view text, const char* why) {
  throw std::invalid_argument("cosync: bad address \"" + std::string(text) + "\": " + why);
}

Address parse_unix(std::string_view text, std::string_view path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty()) bad_address(text, "empty Unix-domain path");
  if (path.size() >= sizeof(address.sun_path)) {
    bad_address(text, "Unix-domain path longer than 107 bytes");
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return Address(reinterpret_cast<const sockaddr*>(&address), size);
}

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// Splits "host:port" and "[v6]:port".
HostPort split_host_port(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) bad_address(text, "expected host:port");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    bad_address(text, "an IPv6 address needs brackets: [addr]:port");
  }
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    bad_address(text, "port must be a number from 0 to 65535");
  }
  return {std::string(host), static_cast<std::uint16_t>(port)};
}

bool parse_numeric(const HostPort& parts, Address& out) {
  sockaddr_in v4{};
  if (inet_pton(AF_INET, parts.host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(parts.port);
    out = Address(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
    return true;
  }
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, parts.host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(parts.port);
    out = Address(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
    return true;
  }
  return false;
}

bool is_unix(std::string_view text) {
  return text.starts_with(kUnixPrefix) || text.starts_with('/');
}

std::string_view unix_path(std::string_view text) {
  return text.starts_with(kUnixPrefix) ? text.substr(kUnixPrefix.size()) : text;
}

// getaddrinfo's own error codes (EAI_NONAME, EAI_AGAIN...), with
// gai_strerror's texts, so a caller can tell "no such name" from "try
// again later".
class LookupCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int status) const override { return gai_strerror(status); }
};

const std::error_category& lookup_category() noexcept {
  static const LookupCategory category;
  return category;
}

// The getaddrinfo error as a system_error: EAI_SYSTEM carries an errno.
[[noreturn]] void lookup_failed(const std::string& host, int status, int saved_errno) {
  const std::string what = "cosync: resolve \"" + host + "\"";
  if (status == EAI_SYSTEM) {
    throw std::system_error(saved_errno, std::generic_category(), what);
  }
  throw std::system_error(status, lookup_category(), what);
}

std::vector<Address> lookup_blocking(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* results = nullptr;
  const std::string service = std::to_string(port);
  const int status = getaddrinfo(host.c_str(), service.c_str(), &hints, &results);
  if (status != 0) {
    lookup_failed(host, status, errno);
  }
  std::vector<Address> addresses;
  for (const addrinfo* info = results; info != nullptr; info = info->ai_next) {
    addresses.emplace_back(info->ai_addr, info->ai_addrlen);
  }
  freeaddrinfo(results);
  return addresses;
}

}  // namespace
}  // namespace cosync::io

namespace cosync {

Address::Address(const sockaddr* address, socklen_t size) {
  if (size > sizeof storage_) {
    throw std::invalid_argument("cosync: socket address of " + std::to_string(size) +
                                " bytes is larger than sockaddr_storage");
  }
  std::memcpy(&storage_, address, size);
  size_ = size;
}

Address Address::parse(std::string_view text) {
  if (io::is_unix(text)) {
    return io::parse_unix(text, io::unix_path(text));
  }
  Address address;
  if (!io::parse_numeric(io::split_host_port(text), address)) {
    io::bad_address(text, "not a numeric IPv4 or IPv6 address (Address::lookup resolves names)");
  }
  return address;
}

Address Address::lookup(std::string_view text, Deadline deadline) {
  return lookup_all(text, deadline).front();
}

std::vector<Address> Address::lookup_all(std::string_view text, Deadline deadline) {
  if (io::is_unix(text)) {
    return {io::parse_unix(text, io::unix_path(text))};
  }
  const io::HostPort parts = io::split_host_port(text);
  Address address;
  if (io::parse_numeric(parts, address)) {
    return {address};
  }
  return resolve(parts.host, parts.port, deadline);
}

std::uint16_t Address::port() const noexcept {
  switch (family()) {
    case AF_INET:
      return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    case AF_INET6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    default:
      return 0;
  }
}

Address Address::with_port(std::uint16_t port) const {
  Address copy = *this;
  switch (family()) {
    case AF_INET:
      reinterpret_cast<sockaddr_in*>(&copy.storage_)->sin_port = htons(port);
      break;
    case AF_INET6:
      reinterpret_cast<sockaddr_in6*>(&copy.storage_)->sin6_port = htons(port);
      break;
    default:
      throw std::invalid_argument("cosync: with_port on " + to_string() + ", which has no port");
  }
  return copy;
}

std::string Address::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET:
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
                sizeof text);
      return std::string(text) + ":" + std::to_string(port());
    case AF_INET6:
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text,
                sizeof text);
      return std::string("[").append(text).append("]:").append(std::to_string(port()));
    case AF_UNIX: {
      const auto* unix_address = reinterpret_cast<const sockaddr_un*>(&storage_);
      const std::size_t max =
          size_ > offsetof(sockaddr_un, sun_path) ? size_ - offsetof(sockaddr_un, sun_path) : 0;
      return std::string("unix:").append(unix_address->sun_path,
                                         strnlen(unix_address->sun_path, max));
    }
    default:
      return size_ == 0 ? "(no address)" : "(address family " + std::to_string(family()) + ")";
  }
}

std::vector<Address> resolve(const std::string& host, std::uint16_t port, Deadline deadline) {
  std::vector<Address> addresses =
      offload([host, port] { return io::lookup_blocking(host, port); }, deadline);
  if (addresses.empty()) {
    throw std::system_error(std::make_error_code(std::errc::host_unreachable),
                            "cosync: resolve \"" + host + "\": no addresses");
  }
  return addresses;
}

}  // namespace cosync
