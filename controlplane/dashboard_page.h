// The dashboard's static files (controlplane/dashboard.h serves them): one HTML page, its
// script, its style sheet and its icon, in this binary as they are sent; no build step, nothing
// fetched from elsewhere (the Content-Security-Policy would refuse it). The script polls
// /api/dashboard every second and redraws the tables with createElement and textContent only.
#pragma once

#include <string_view>

namespace gw {

extern const std::string_view kDashboardHtml;  // GET /
extern const std::string_view kDashboardJs;    // GET /dashboard.js
extern const std::string_view kDashboardCss;   // GET /dashboard.css
extern const std::string_view kDashboardIcon;  // GET /favicon.svg

}  // namespace gw
