// The real servers a test binary talks to: redis-server, PostgreSQL 15 and
// the delayed HTTP server (servers.sh). One set per test binary run: ctest
// starts it once for every test of the binary (the fixture HookServers,
// which passes the directory in COSYNC_HOOK_SERVERS); a binary run by hand
// starts its own before the first test and stops it after the last.
#pragma once

namespace cosync::test {

// Where the servers listen, all on 127.0.0.1.
struct ServerPorts {
  int redis;
  int postgres;
  int http;
};

// The running servers' ports; valid from the first test on.
const ServerPorts& server_ports();

}  // namespace cosync::test
