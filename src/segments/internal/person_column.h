// PersonColumn<T>: one value per person, costing memory in proportion to the
// persons that hold a value. Sparse (a hash map) while few persons hold one;
// dense (a vector indexed by PersonId) once a quarter of the id span does,
// where the vector is the cheaper of the two; back to sparse if the span
// outgrows the holders eight to one (a late person with a high id).
//
// A trait that only a handful of persons carry therefore costs a few bytes
// per holder, not eight bytes per person in the workspace.
//
// Thread-safety: const methods may run concurrently; Set needs exclusive
// access.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/types.h"

namespace facet::segments::internal {

template <typename T>
class PersonColumn {
 public:
  explicit PersonColumn(T none) : none_(none) {}

  T Get(PersonId person) const {
    if (person < dense_.size()) return dense_[person];
    if (sparse_.empty()) return none_;
    auto it = sparse_.find(person);
    return it == sparse_.end() ? none_ : it->second;
  }

  void Prefetch(PersonId person) const {
    if (person < dense_.size()) __builtin_prefetch(&dense_[person]);
  }

  // Stores `value` (none_ clears). `had` says whether the person held a
  // value before, which the caller knows from Get.
  void Set(PersonId person, T value, bool had) {
    const bool has = !IsNone(value);
    if (has && !had) ++count_;
    if (!has && had) --count_;
    if (dense_mode_) {
      if (person < dense_.size()) {
        dense_[person] = value;
        return;
      }
      if (!has) return;
      const size_t span = static_cast<size_t>(person) + 1;
      if (count_ * 8 < span) {
        ToSparse();
        sparse_[person] = value;
        max_person_ = std::max(max_person_, person);
        return;
      }
      dense_.resize(std::max(span, dense_.size() * 3 / 2), none_);
      dense_[person] = value;
      return;
    }
    if (has) {
      sparse_[person] = value;
      if (person > max_person_) max_person_ = person;
    } else {
      sparse_.erase(person);
    }
    if (count_ * 4 >= static_cast<size_t>(max_person_) + 1) ToDense();
  }

  bool dense() const { return dense_mode_; }
  size_t size() const { return count_; }

  size_t MemoryBytes() const {
    return dense_.capacity() * sizeof(T) + sparse_.capacity() * (sizeof(std::pair<PersonId, T>) + 1);
  }

 private:
  bool IsNone(const T& v) const {
    if constexpr (std::is_floating_point_v<T>) {
      return v != v;  // NaN is the floating-point none
    } else {
      return v == none_;
    }
  }

  void ToDense() {
    dense_mode_ = true;
    dense_.assign(static_cast<size_t>(max_person_) + 1, none_);
    for (const auto& [person, value] : sparse_) dense_[person] = value;
    absl::flat_hash_map<PersonId, T>().swap(sparse_);
  }

  void ToSparse() {
    dense_mode_ = false;
    max_person_ = 0;
    for (size_t i = 0; i < dense_.size(); ++i) {
      if (IsNone(dense_[i])) continue;
      sparse_[static_cast<PersonId>(i)] = dense_[i];
      max_person_ = static_cast<PersonId>(i);
    }
    std::vector<T>().swap(dense_);
  }

  T none_;
  bool dense_mode_ = false;
  size_t count_ = 0;
  PersonId max_person_ = 0;  // sparse mode: the highest holder
  std::vector<T> dense_;
  absl::flat_hash_map<PersonId, T> sparse_;
};

}  // namespace facet::segments::internal
