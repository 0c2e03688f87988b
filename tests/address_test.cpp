// Socket addresses: parsing, printing, ports, and name lookup on the pool.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <stdexcept>
#include <string>

#include "cosync/cosync.hpp"

namespace cosync {
namespace {

void expect_invalid(const std::string& text, const std::string& reason) {
  try {
    Address::parse(text);
    FAIL() << "accepted \"" << text << "\"";
  } catch (const std::invalid_argument& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("\"" + text + "\""), std::string::npos) << what;
    EXPECT_NE(what.find(reason), std::string::npos) << what;
  }
}

TEST(Address, ParsesAndPrintsIpv4) {
  const Address address = Address::parse("127.0.0.1:8080");
  EXPECT_EQ(address.family(), AF_INET);
  EXPECT_EQ(address.port(), 8080);
  EXPECT_EQ(address.to_string(), "127.0.0.1:8080");
}

TEST(Address, ParsesAndPrintsIpv6InBrackets) {
  const Address address = Address::parse("[::1]:443");
  EXPECT_EQ(address.family(), AF_INET6);
  EXPECT_EQ(address.port(), 443);
  EXPECT_EQ(address.to_string(), "[::1]:443");
}

TEST(Address, ParsesUnixDomainPaths) {
  EXPECT_EQ(Address::parse("unix:/tmp/a.sock").to_string(), "unix:/tmp/a.sock");
  EXPECT_EQ(Address::parse("/tmp/b.sock").family(), AF_UNIX);
  EXPECT_EQ(Address::parse("/tmp/b.sock").port(), 0);
}

TEST(Address, WithPortChangesOnlyThePort) {
  const Address address = Address::parse("10.1.2.3:1").with_port(9000);
  EXPECT_EQ(address.to_string(), "10.1.2.3:9000");
  EXPECT_THROW(Address::parse("unix:/x").with_port(1), std::invalid_argument);
}

TEST(Address, BadTextIsRefusedWithTheTextAndTheReason) {
  expect_invalid("127.0.0.1", "host:port");
  expect_invalid("127.0.0.1:99999", "port");
  expect_invalid("127.0.0.1:http", "port");
  expect_invalid("::1:80", "brackets");
  expect_invalid("example.invalid:80", "numeric");
  expect_invalid("unix:", "empty");
  expect_invalid("unix:/" + std::string(200, 'x'), "longer than 107");
}

TEST(Address, LookupResolvesLocalhostOnThePool) {
  const Address address = Address::lookup("localhost:7");
  EXPECT_EQ(address.port(), 7);
  EXPECT_TRUE(address.family() == AF_INET || address.family() == AF_INET6);
}

TEST(Address, ResolveFromACoroutine) {
  auto addresses = spawn([] { return resolve("localhost", 80); }).get();
  ASSERT_FALSE(addresses.empty());
  EXPECT_EQ(addresses.front().port(), 80);
}

TEST(Address, AFailedLookupNamesTheHost) {
  try {
    resolve("no-such-host.invalid", 80);
    FAIL() << "resolved a .invalid name";
  } catch (const std::system_error& error) {
    EXPECT_NE(std::string(error.what()).find("no-such-host.invalid"), std::string::npos)
        << error.what();
    // getaddrinfo's own code (EAI_NONAME, or EAI_AGAIN without a resolver),
    // or an errno when it reports EAI_SYSTEM.
    const std::string category = error.code().category().name();
    EXPECT_TRUE(category == "getaddrinfo" || category == "generic") << category;
  }
}

}  // namespace
}  // namespace cosync
