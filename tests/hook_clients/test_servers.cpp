#include "test_servers.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace cosync::test {
namespace {

ServerPorts ports{};

int read_port(const std::string& directory, const char* server) {
  std::ifstream file(directory + "/" + server + ".port");
  int port = 0;
  if (!(file >> port)) {
    throw std::runtime_error(std::string("no port for ") + server + " in " + directory +
                             " (servers.sh start failed?)");
  }
  return port;
}

void run_script(const std::string& arguments) {
  const std::string command = std::string(COSYNC_HOOK_SERVERS_SCRIPT) + " " + arguments;
  if (std::system(command.c_str()) != 0) throw std::runtime_error(command + " failed");
}

class Servers : public testing::Environment {
 public:
  void SetUp() override {
    const char* shared = std::getenv("COSYNC_HOOK_SERVERS");
    std::string directory;
    if (shared != nullptr) {
      directory = shared;
    } else {
      own_ = std::string(std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp") +
             "/cosync-hook-servers." + std::to_string(getpid());
      run_script("start " + own_);
      directory = own_;
    }
    ports = {read_port(directory, "redis"), read_port(directory, "postgres"),
             read_port(directory, "http")};
  }
  void TearDown() override {
    if (!own_.empty()) run_script("stop " + own_);
  }

 private:
  std::string own_;  // the servers this process started, if any
};

[[maybe_unused]] testing::Environment* const environment =
    testing::AddGlobalTestEnvironment(new Servers);

}  // namespace

const ServerPorts& server_ports() { return ports; }

}  // namespace cosync::test
