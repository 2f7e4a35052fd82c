// The aggregate's answer from its parts' results (ComposeAggregate) and the worker's budget; the
// fan-out itself runs against loopback upstreams in server/proxy_loopback_test.cc.
#include "gateway/aggregate/aggregator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gw {
namespace {

RouteEntry Route(std::vector<std::string> keys, bool partial = false) {
  RouteEntry route;
  route.path = "/home";
  for (std::string& key : keys) route.aggregate.push_back({std::move(key), nullptr, ""});
  route.aggregate_partial = partial;
  return route;
}

PartResult Ok(std::string body) { return {PartOutcome::kOk, 200, {}, std::move(body)}; }
PartResult Status(unsigned status, std::string body) {
  return {PartOutcome::kStatus, status, {}, std::move(body)};
}
PartResult Failed(PartOutcome outcome, std::string_view reason, unsigned status = 0) {
  return {outcome, status, reason, {}};
}

std::string HeaderOf(const AggregateAnswer& answer, std::string_view name) {
  for (const auto& [key, value] : answer.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

TEST(ComposeAggregate, PastesThePartsVerbatimInTheRoutesOrder) {
  const RouteEntry route = Route({"user", "cart", "empty"});
  std::vector<PartResult> results = {Ok(R"({"id": 7})"), Ok("[1,2]\n"), Ok("")};  // a 204: null
  const AggregateAnswer answer = ComposeAggregate(route, results);
  EXPECT_EQ(answer.status, 200u);
  EXPECT_EQ(answer.reason, "aggregate");
  EXPECT_EQ(answer.body, "{\"user\":{\"id\": 7},\"cart\":[1,2]\n,\"empty\":null}");
  EXPECT_TRUE(answer.headers.empty());
}

TEST(ComposeAggregate, KeysAreJsonStrings) {
  const RouteEntry route = Route({"a-b_C9"});
  std::vector<PartResult> results = {Ok("1")};
  EXPECT_EQ(ComposeAggregate(route, results).body, R"({"a-b_C9":1})");
}

TEST(ComposeAggregate, ClientErrorsAreKeptAndListedByStatus) {
  const RouteEntry route = Route({"user", "cart", "recs"});
  std::vector<PartResult> results = {Status(404, R"({"e":1})"), Ok("2"), Status(301, "")};
  const AggregateAnswer answer = ComposeAggregate(route, results);
  EXPECT_EQ(answer.status, 200u);
  EXPECT_EQ(answer.body, R"({"user":{"e":1},"cart":2,"recs":null})");
  EXPECT_EQ(HeaderOf(answer, "X-Aggregate-Status"), "user=404, recs=301");
  EXPECT_EQ(HeaderOf(answer, "X-Aggregate-Failed"), "<absent>");
}

TEST(ComposeAggregate, AFailureIs502NamingEveryFailedPart) {
  const RouteEntry route = Route({"user", "cart", "recs"});
  std::vector<PartResult> results = {Failed(PartOutcome::kFailed, "upstream_5xx", 500), Ok("1"),
                                     Failed(PartOutcome::kTimedOut, "upstream_timeout")};
  const AggregateAnswer answer = ComposeAggregate(route, results);
  EXPECT_EQ(answer.status, 502u);
  EXPECT_EQ(answer.reason, "aggregate_part_failed");
  EXPECT_EQ(answer.body, R"({"error":"aggregate_part_failed","failed":["user","recs"],)"
                         R"("reasons":{"user":"upstream_5xx","recs":"upstream_timeout"}})");
  EXPECT_EQ(HeaderOf(answer, "X-Aggregate-Failed"), "user, recs");
}

TEST(ComposeAggregate, OnlyTimeFailuresAre504) {
  const RouteEntry route = Route({"user", "cart"});
  std::vector<PartResult> results = {Failed(PartOutcome::kTimedOut, "aggregate_timeout"),
                                     Status(404, "{}")};
  const AggregateAnswer answer = ComposeAggregate(route, results);
  EXPECT_EQ(answer.status, 504u);
  EXPECT_EQ(answer.reason, "aggregate_timeout");
  EXPECT_EQ(HeaderOf(answer, "X-Aggregate-Failed"), "user");
  EXPECT_EQ(HeaderOf(answer, "X-Aggregate-Status"), "cart=404");
}

TEST(ComposeAggregate, PartialAnswers200WithNullForTheFailedParts) {
  const RouteEntry route = Route({"user", "cart"}, /*partial=*/true);
  std::vector<PartResult> results = {Ok("true"), Failed(PartOutcome::kFailed, "not_json")};
  const AggregateAnswer answer = ComposeAggregate(route, results);
  EXPECT_EQ(answer.status, 200u);
  EXPECT_EQ(answer.reason, "aggregate_partial");
  EXPECT_EQ(answer.body, R"({"user":true,"cart":null})");
  EXPECT_EQ(HeaderOf(answer, "X-Aggregate-Failed"), "cart");
}

TEST(ComposeAggregate, AnExhaustedBudgetIs503WhateverElse) {
  const RouteEntry route = Route({"user", "cart"}, /*partial=*/true);
  std::vector<PartResult> results = {Ok("1"), Failed(PartOutcome::kBusy, "aggregate_busy")};
  const AggregateAnswer answer = ComposeAggregate(route, results);
  EXPECT_EQ(answer.status, 503u);
  EXPECT_EQ(answer.reason, "aggregate_busy");
  EXPECT_EQ(answer.body, R"({"error":"aggregate_busy"})");
}

TEST(AggregateBudget, TakesUpToItsLimit) {
  AggregateBudget budget(100);
  EXPECT_TRUE(budget.Take(60));
  EXPECT_FALSE(budget.Take(41));
  EXPECT_TRUE(budget.Take(40));
  EXPECT_FALSE(budget.Take(1));
  budget.Give(50);
  EXPECT_EQ(budget.used(), 50u);
  EXPECT_TRUE(budget.Take(50));
}

}  // namespace
}  // namespace gw
