// PostgresStore: the StoreBackend of a cluster, a PostgreSQL database (libpq) shared by any
// number of control-plane replicas.
//
// - Writes: one SERIALIZABLE transaction each, which locks the version row first, so replicas'
//   writes queue and take versions 1, 2, 3... in order; a serialization failure is kConflict
//   (ConfigStore runs the write again on the newer config).
// - Announcements: a write NOTIFYs channel gateway_config with its version (delivered on commit);
//   WaitForChange LISTENs on a connection of its own and wakes the change feed.
// - Schema: created and migrated under an advisory lock, so replicas starting together do it
//   once; the schema version lives in the meta table.
// - The database down: every call fails within a few seconds with kUnavailable naming the
//   database (connect_timeout, tcp_user_timeout, lock and statement timeouts), later calls fail
//   at once until the next reconnect attempt (backoff 0.5 s doubling to 5 s).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "controlplane/store/store_backend.h"

namespace gw {

// `url`: any libpq connection URI (postgres:// or postgresql://, multi-host ones included).
// Waits up to `connect_wait` for the database to accept connections, then migrates; throws
// std::runtime_error with one sentence naming the database (never its password).
std::unique_ptr<StoreBackend> OpenPostgresStore(const std::string& url,
                                                std::chrono::milliseconds connect_wait);

// "postgresql://user@host:port,host2:port/dbname": the URI without password or options.
std::string RedactPostgresUrl(const std::string& url);

}  // namespace gw
