// Status helpers shared by every module.
//
// Every fallible function at a module boundary returns absl::Status or
// absl::StatusOr<T>. Propagate with RETURN_IF_ERROR / ASSIGN_OR_RETURN:
//
//   absl::StatusOr<PersonId> Resolve(...) {
//     ASSIGN_OR_RETURN(std::string raw, store.Get(Column::kIdentities, key));
//     RETURN_IF_ERROR(Validate(raw));
//     ...
//   }
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace facet {

// Returns `s` with `context` prepended to its message ("context: message").
inline absl::Status Annotate(const absl::Status& s, std::string_view context) {
  if (s.ok()) return s;
  return absl::Status(s.code(), std::string(context) + ": " + std::string(s.message()));
}

}  // namespace facet

#define FACET_STATUS_CONCAT_INNER(a, b) a##b
#define FACET_STATUS_CONCAT(a, b) FACET_STATUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status _facet_status = (expr);         \
    if (!_facet_status.ok()) return _facet_status; \
  } while (0)

#define FACET_ASSIGN_OR_RETURN_IMPL(var, lhs, expr) \
  auto var = (expr);                                \
  if (!var.ok()) return var.status();               \
  lhs = std::move(var).value()

// ASSIGN_OR_RETURN(T x, StatusOr<T>-expression);
#define ASSIGN_OR_RETURN(lhs, expr) \
  FACET_ASSIGN_OR_RETURN_IMPL(FACET_STATUS_CONCAT(_facet_statusor_, __LINE__), lhs, expr)
