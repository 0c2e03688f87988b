// The three clients: nothing here knows about coroutines.
#include "clients.hpp"

#include <curl/curl.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

namespace hooked_clients {

RedisClient::RedisClient(const std::string& host, int port)
    : context_(redisConnect(host.c_str(), port)) {
  if (!context_) throw RedisError("redisConnect: out of memory", REDIS_ERR_OOM, ENOMEM);
  if (context_->err != 0) fail("redisConnect", errno);
}

void RedisClient::fail(const char* call, int saved_errno) const {
  throw RedisError(std::string(call) + ": " + context_->errstr, context_->err, saved_errno);
}

RedisClient::Reply RedisClient::command(const char* format, const std::string& a,
                                        const std::string& b) {
  auto* reply =
      static_cast<redisReply*>(redisCommand(context_.get(), format, a.c_str(), b.c_str()));
  if (reply == nullptr) fail(format, errno);
  Reply owned(reply);
  if (owned->type == REDIS_REPLY_ERROR) {
    throw RedisError(std::string(format) + ": " + owned->str, REDIS_ERR_OTHER, 0);
  }
  return owned;
}

std::optional<std::string> RedisClient::blpop(const std::string& key, double timeout_seconds) {
  const Reply reply = command("BLPOP %s %s", key, std::to_string(timeout_seconds));
  if (reply->type == REDIS_REPLY_NIL) return std::nullopt;
  // [key, value]
  return std::string(reply->element[1]->str, reply->element[1]->len);
}

void RedisClient::rpush(const std::string& key, const std::string& value) {
  command("RPUSH %s %s", key, value);
}

void RedisClient::del(const std::string& key) { command("DEL %s", key); }

long long RedisClient::info_field(const std::string& field) {
  const Reply reply = command("INFO %s", "clients");
  const std::string text(reply->str, reply->len);
  const std::string label = "\n" + field + ":";
  const std::size_t at = text.find(label);
  if (at == std::string::npos) throw std::runtime_error("INFO has no field " + field);
  return std::stoll(text.substr(at + label.size()));
}

void RedisClient::set_timeout(long milliseconds) {
  const timeval timeout{milliseconds / 1000, (milliseconds % 1000) * 1000};
  if (redisSetTimeout(context_.get(), timeout) != REDIS_OK) fail("redisSetTimeout", errno);
}

std::string pg_conninfo(int port) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=postgres";
}

PgClient::PgClient(const std::string& conninfo) : connection_(PQconnectdb(conninfo.c_str())) {
  if (PQstatus(connection_.get()) != CONNECTION_OK) {
    throw PgError(std::string("PQconnectdb: ") + PQerrorMessage(connection_.get()), "");
  }
}

std::string PgClient::scalar(const std::string& sql) {
  const std::unique_ptr<PGresult, void (*)(PGresult*)> result(
      PQexec(connection_.get(), sql.c_str()), PQclear);
  switch (PQresultStatus(result.get())) {
    case PGRES_TUPLES_OK:
      return PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
    case PGRES_COMMAND_OK:
      return "";
    default: {
      const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      throw PgError(std::string("PQexec: ") + PQerrorMessage(connection_.get()),
                    sqlstate != nullptr ? sqlstate : "");
    }
  }
}

void PgClient::cancel_running_statement() const {
  const std::unique_ptr<PGcancel, void (*)(PGcancel*)> cancel(PQgetCancel(connection_.get()),
                                                              PQfreeCancel);
  std::array<char, 256> error{};
  if (!cancel || PQcancel(cancel.get(), error.data(), static_cast<int>(error.size())) == 0) {
    throw PgError(std::string("PQcancel: ") + error.data(), "");
  }
}

namespace {

std::size_t append_to_string(char* data, std::size_t size, std::size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

}  // namespace

HttpReply http_get(const std::string& url) {
  const std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw std::runtime_error("curl_easy_init failed");
  HttpReply reply{0, {}};
  std::array<char, CURL_ERROR_SIZE> error{};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error.data());
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 60L);
  const CURLcode code = curl_easy_perform(curl.get());
  if (code != CURLE_OK) {
    throw std::runtime_error("curl_easy_perform " + url + ": " +
                             (error[0] != 0 ? error.data() : curl_easy_strerror(code)));
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace hooked_clients
