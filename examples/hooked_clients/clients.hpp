// Three database and HTTP clients written the ordinary way: plain
// synchronous functions over hiredis, libpq and libcurl, with nothing of
// cosync in them. Every call blocks its caller until the server answers.
// Linked with libcosync-hook (or run under LD_PRELOAD of it) and called
// from coroutines, each call blocks only its own coroutine; elsewhere they
// behave as they always did.
#pragma once

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace hooked_clients {

// A failed redis call: hiredis's error code (REDIS_ERR_IO, ...), errno as
// hiredis left it, and its message.
class RedisError : public std::runtime_error {
 public:
  // `code` is redisContext::err, `saved_errno` errno right after the call.
  RedisError(const std::string& what, int code, int saved_errno)
      : std::runtime_error(what), code(code), saved_errno(saved_errno) {}
  int code;         // redisContext::err
  int saved_errno;  // errno right after the failed call
};

// One blocking connection to redis-server (its own redisContext).
class RedisClient {
 public:
  // Connects to host:port; throws RedisError.
  RedisClient(const std::string& host, int port);
  // BLPOP key timeout: the popped value, or nothing when the server's
  // timeout (seconds, fractions allowed) passed first. Throws RedisError.
  std::optional<std::string> blpop(const std::string& key, double timeout_seconds);
  // RPUSH key value; throws RedisError.
  void rpush(const std::string& key, const std::string& value);
  // DEL key; throws RedisError.
  void del(const std::string& key);
  // The value of `field` in INFO's reply (e.g. "blocked_clients"); throws
  // RedisError, or std::runtime_error when INFO has no such field.
  long long info_field(const std::string& field);
  // redisSetTimeout: every later read or write of this connection fails
  // with REDIS_ERR_IO and EAGAIN once it has waited `milliseconds`.
  void set_timeout(long milliseconds);

 private:
  struct ReplyFree {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
  };
  using Reply = std::unique_ptr<redisReply, ReplyFree>;
  Reply command(const char* format, const std::string& a, const std::string& b = {});
  [[noreturn]] void fail(const char* call, int saved_errno) const;

  struct ContextFree {
    void operator()(redisContext* context) const { redisFree(context); }
  };
  std::unique_ptr<redisContext, ContextFree> context_;
};

// A failed PostgreSQL call, with its SQLSTATE (empty when none).
class PgError : public std::runtime_error {
 public:
  // `sqlstate` is PG_DIAG_SQLSTATE of the result, when there is one.
  PgError(const std::string& what, std::string sqlstate)
      : std::runtime_error(what), sqlstate(std::move(sqlstate)) {}
  std::string sqlstate;  // e.g. "57014" for a cancelled statement
};

// One blocking connection to PostgreSQL.
class PgClient {
 public:
  // PQconnectdb(conninfo); throws PgError.
  explicit PgClient(const std::string& conninfo);
  // PQexec(sql): the first column of the first row ("" when none). Throws
  // PgError.
  std::string scalar(const std::string& sql);
  // The server process serving this connection.
  int backend_pid() const { return PQbackendPID(connection_.get()); }
  // Asks the server to cancel the statement this connection runs now
  // (PQcancel: safe from another coroutine, thread or a signal handler).
  // Throws PgError when the request could not be sent.
  void cancel_running_statement() const;

 private:
  struct ConnectionFree {
    void operator()(PGconn* connection) const { PQfinish(connection); }
  };
  std::unique_ptr<PGconn, ConnectionFree> connection_;
};

// A PostgreSQL conninfo string for the server on 127.0.0.1:port.
std::string pg_conninfo(int port);

// An HTTP reply.
struct HttpReply {
  long status;       // the response code
  std::string body;  // the whole body
};

// GET url with libcurl's easy interface (curl_easy_perform). Throws
// std::runtime_error with curl's message when the transfer fails.
HttpReply http_get(const std::string& url);

}  // namespace hooked_clients
