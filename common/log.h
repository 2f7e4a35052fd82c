// Process logging: one line per event on stderr, "2026-11-26T04:00:00.123Z INFO message".
// Thread-safe; meant for events (start, config applied, stream lost), never per request.
#pragma once

#include <string_view>

namespace gw {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view message);

inline void LogInfo(std::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarn(std::string_view message) { Log(LogLevel::kWarn, message); }
inline void LogError(std::string_view message) { Log(LogLevel::kError, message); }

}  // namespace gw
