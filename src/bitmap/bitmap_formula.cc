#include "bitmap/bitmap_formula.h"

#include <roaring/roaring.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "bitmap/internal/word_kernels.h"

namespace facet::bitmap {

BitmapFormula& BitmapFormula::Push(const Bitmap& b) {
  code.push_back({Op::kPush, static_cast<uint32_t>(operands.size())});
  operands.push_back(&b);
  return *this;
}

BitmapFormula& BitmapFormula::And() {
  code.push_back({Op::kAnd});
  return *this;
}

BitmapFormula& BitmapFormula::Or() {
  code.push_back({Op::kOr});
  return *this;
}

BitmapFormula& BitmapFormula::AndNot() {
  code.push_back({Op::kAndNot});
  return *this;
}

BitmapFormula& BitmapFormula::Not() {
  code.push_back({Op::kNot});
  return *this;
}

absl::Status ValidateFormula(const BitmapFormula& f) {
  for (size_t i = 0; i < f.operands.size(); ++i) {
    if (f.operands[i] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("formula operand ", i, " is null"));
    }
  }
  size_t depth = 0;
  for (size_t pc = 0; pc < f.code.size(); ++pc) {
    const BitmapFormula::Instr& in = f.code[pc];
    switch (in.op) {
      case BitmapFormula::Op::kPush:
        if (in.arg >= f.operands.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("formula instruction ", pc, " pushes operand ", in.arg, " of ", f.operands.size()));
        }
        ++depth;
        break;
      case BitmapFormula::Op::kNot:
        if (depth < 1) {
          return absl::InvalidArgumentError(absl::StrCat("formula instruction ", pc, " negates an empty stack"));
        }
        break;
      case BitmapFormula::Op::kAnd:
      case BitmapFormula::Op::kOr:
      case BitmapFormula::Op::kAndNot:
        if (depth < 2) {
          return absl::InvalidArgumentError(
              absl::StrCat("formula instruction ", pc, " needs two values, the stack holds ", depth));
        }
        --depth;
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("formula instruction ", pc, " has unknown op ", static_cast<int>(in.op)));
    }
  }
  if (depth != 1) {
    return absl::InvalidArgumentError(absl::StrCat("formula leaves ", depth, " values on the stack, not one"));
  }
  return absl::OkStatus();
}

namespace {

using internal::FinishFn;
using internal::kBlockBits;
using internal::kBlocksPerChunk;
using internal::kBlockWords;
using internal::kChunkWords;
using internal::StepFn;
using internal::WordOp;

constexpr int32_t kMaxArrayCardinality = 4096;

// ---- Containers as words ------------------------------------------------

// Sets (kSet) or clears bits [first, last] of a word array. A range within
// one or two words takes no data-dependent branch.
template <bool kSet>
inline void ApplyRange(uint64_t* words, uint32_t first, uint32_t last) {
  const uint32_t first_word = first >> 6;
  const uint32_t last_word = last >> 6;
  const uint64_t first_mask = ~uint64_t{0} << (first & 63);
  const uint64_t last_mask = ~uint64_t{0} >> (63 - (last & 63));
  const bool one_word = first_word == last_word;
  const uint64_t head = one_word ? first_mask & last_mask : first_mask;
  const uint64_t tail = one_word ? head : last_mask;
  if constexpr (kSet) {
    words[first_word] |= head;
    words[last_word] |= tail;
  } else {
    words[first_word] &= ~head;
    words[last_word] &= ~tail;
  }
  for (uint32_t w = first_word + 1; w < last_word; ++w) words[w] = kSet ? ~uint64_t{0} : 0;
}

// Writes bits [block * kBlockBits, (block + 1) * kBlockBits) of an array or
// run container into `out` (kBlockWords words). A mostly-full run container
// is written as ones with its gaps cleared, since its gaps are then shorter
// than its runs.
void ExpandBlock(const void* c, uint8_t type, bool mostly_full, int block, uint64_t* out) {
  const uint32_t lo = static_cast<uint32_t>(block) * kBlockBits;
  const uint32_t hi = lo + kBlockBits;
  if (type == ARRAY_CONTAINER_TYPE_CODE) {
    std::memset(out, 0, kBlockWords * sizeof(uint64_t));
    const auto* a = static_cast<const array_container_t*>(c);
    const uint16_t* begin = a->array;
    const uint16_t* end = begin + a->cardinality;
    const uint16_t* v = block == 0 ? begin : std::lower_bound(begin, end, lo);
    for (; v != end && *v < hi; ++v) {
      const uint32_t bit = *v - lo;
      out[bit >> 6] |= uint64_t{1} << (bit & 63);
    }
    return;
  }
  const auto* run = static_cast<const run_container_t*>(c);
  const rle16_t* begin = run->runs;
  const rle16_t* end = begin + run->n_runs;
  // The first run that ends at or after `lo`.
  const rle16_t* r = std::partition_point(
      begin, end, [lo](const rle16_t& x) { return static_cast<uint32_t>(x.value) + x.length < lo; });
  if (!mostly_full) {
    std::memset(out, 0, kBlockWords * sizeof(uint64_t));
    for (; r != end && r->value < hi; ++r) {
      const uint32_t first = std::max<uint32_t>(r->value, lo);
      const uint32_t last = std::min<uint32_t>(static_cast<uint32_t>(r->value) + r->length, hi - 1);
      ApplyRange<true>(out, first - lo, last - lo);
    }
    return;
  }
  std::memset(out, 0xFF, kBlockWords * sizeof(uint64_t));
  uint32_t gap = lo;  // first bit not yet known to be covered
  for (; r != end && r->value < hi; ++r) {
    if (r->value == gap + 1) {  // the common one-id hole, e.g. a deleted person
      const uint32_t bit = gap - lo;
      out[bit >> 6] &= ~(uint64_t{1} << (bit & 63));
    } else if (r->value > gap) {
      ApplyRange<false>(out, gap - lo, r->value - 1 - lo);
    }
    gap = static_cast<uint32_t>(r->value) + r->length + 1;
  }
  if (gap < hi) ApplyRange<false>(out, gap - lo, hi - 1 - lo);
}

// One bitmap's container for the current chunk.
struct Source {
  const roaring_array_t* ra = nullptr;
  int32_t next = 0;                 // containers before this index have smaller keys
  const void* container = nullptr;  // unwrapped; null if the chunk is absent
  uint8_t type = 0;
  bool full = false;
  bool mostly_full = false;  // a run container holding over half the chunk; see ExpandBlock

  void Locate(uint16_t key) {
    container = nullptr;
    full = false;
    if (ra == nullptr) return;
    const uint16_t* keys = ra->keys;
    next = static_cast<int32_t>(std::lower_bound(keys + next, keys + ra->size, key) - keys);
    if (next < ra->size && keys[next] == key) Load(next);
  }

  void Load(int32_t index) {
    type = ra->typecodes[index];
    container = container_unwrap_shared(ra->containers[index], &type);
    full = container_is_full(container, type);
    mostly_full = type == RUN_CONTAINER_TYPE_CODE && !full &&
                  run_container_cardinality(static_cast<const run_container_t*>(container)) > (1 << 15);
  }

  // The container's words if it is a bitset, else null.
  const uint64_t* InPlaceWords() const {
    return type == BITSET_CONTAINER_TYPE_CODE ? static_cast<const bitset_container_t*>(container)->array : nullptr;
  }
};

struct FreeDeleter {
  void operator()(uint64_t* p) const { std::free(p); }
};

}  // namespace

// Evaluates one formula chunk by chunk. Per chunk it folds the program
// against which operands are absent or full (constant folding plus De Morgan,
// so that no kNot survives), compiles what is left into a register program
// over 256-word blocks, and runs it with the selected kernels. Bitset
// containers are read in place; array and run containers are expanded one
// block at a time into the temporary their stack position owns. When the
// program ends in a chain of "& x" and "& ~x", a block whose running result
// has become sparse tests its few members against the rest of the chain
// instead of expanding and combining the remaining operands.
class DenseEvaluator {
 public:
  // `f` must have passed ValidateFormula().
  DenseEvaluator(const BitmapFormula& f, const Bitmap& universe, bool simd);
  ~DenseEvaluator() {
    if (spare_ != nullptr) bitset_container_free(spare_);
  }
  DenseEvaluator(const DenseEvaluator&) = delete;
  DenseEvaluator& operator=(const DenseEvaluator&) = delete;

  uint64_t Count() { return Run(nullptr); }

  Bitmap Evaluate() {
    Bitmap out;
    roaring_bitmap_t* result = roaring_bitmap_create_with_capacity(static_cast<uint32_t>(universe_.ra->size));
    if (result == nullptr) std::abort();
    out.r_ = result;
    Run(result);
    return out;
  }

 private:
  // A value on the value stack while folding: a constant (all zeros, or all
  // ones when `neg`), or the code folded_[begin, ...) complemented if `neg`.
  struct Entry {
    bool is_const;
    bool neg;
    uint32_t begin;
  };
  // An instruction of the folded program: push operand sources_[source], or
  // combine the top two values with `op`.
  struct Folded {
    bool leaf;
    WordOp op;
    uint32_t source;
  };
  // Where a kernel argument lives: a temporary slot or an operand's words.
  struct Ref {
    bool temp;
    uint32_t index;
  };
  // An instruction of the register program: write sources_[source] into
  // temporary `dst` (expand), or dst = op(a, b).
  struct Step {
    bool expand;
    WordOp op;
    uint32_t dst;
    Ref a;
    Ref b;
    uint32_t source;
  };
  // One link of the closing chain: members must (kAnd) or must not (kAndNot)
  // be in sources_[source]. The link's work starts at steps_[first_step]
  // (steps_.size() if it is all in final_).
  struct Link {
    WordOp op;
    uint32_t source;
    size_t first_step;
    double keep;           // the share of members expected to pass
    uint64_t probe_limit;  // probe this and later links at up to this many members
  };

  uint64_t Run(roaring_bitmap_t* result);
  Entry Fold();
  Entry Combine(Entry x, Entry y, bool is_or);
  void Compile(bool neg);
  void PlanChain(bool neg);
  uint64_t RunChunk(bool mask, bool neg, uint64_t* out);
  uint64_t ProbeBlock(const uint64_t* acc, size_t first_link, int block, bool mask, uint64_t* out) const;
  const uint64_t* Words(Ref r, int block) const {
    return r.temp ? temps_.get() + size_t{r.index} * kBlockWords : leaf_words_[r.index] + block * kBlockWords;
  }
  void AppendResult(roaring_bitmap_t* result, uint16_t key, uint64_t cardinality);

  const BitmapFormula& f_;
  const bool simd_;
  Source universe_;
  std::vector<Source> sources_;                   // one per distinct operand bitmap
  std::vector<uint32_t> source_of_;               // operand index -> sources_ index
  std::vector<const uint64_t*> leaf_words_;       // bitset words per source, this chunk
  std::unique_ptr<uint64_t, FreeDeleter> temps_;  // max depth x block, then the universe block
  uint64_t* universe_block_ = nullptr;
  bitset_container_t* spare_ = nullptr;  // next result bitset, reused while chunks come out empty

  std::vector<Entry> stack_;
  std::vector<Folded> folded_;
  std::vector<Ref> refs_;
  std::vector<Step> steps_;
  Step final_{};
  // The closing chain of "& x" / "& ~x" on the running result, in program
  // order; empty if the program does not end in one.
  std::vector<Link> chain_;
};

DenseEvaluator::DenseEvaluator(const BitmapFormula& f, const Bitmap& universe, bool simd) : f_(f), simd_(simd) {
  universe_.ra =
      universe.r_ != nullptr ? &static_cast<const roaring_bitmap_t*>(universe.r_)->high_low_container : nullptr;
  static const roaring_array_t kEmpty{};
  if (universe_.ra == nullptr) universe_.ra = &kEmpty;

  absl::flat_hash_map<const Bitmap*, uint32_t> seen;
  source_of_.reserve(f.operands.size());
  for (const Bitmap* b : f.operands) {
    auto [it, inserted] = seen.try_emplace(b, static_cast<uint32_t>(sources_.size()));
    if (inserted) {
      Source s;
      if (b->r_ != nullptr) s.ra = &static_cast<const roaring_bitmap_t*>(b->r_)->high_low_container;
      sources_.push_back(s);
    }
    source_of_.push_back(it->second);
  }
  leaf_words_.resize(sources_.size());

  size_t depth = 0;
  size_t max_depth = 0;
  for (const BitmapFormula::Instr& in : f.code) {
    if (in.op == BitmapFormula::Op::kPush) max_depth = std::max(max_depth, ++depth);
    if (in.op == BitmapFormula::Op::kAnd || in.op == BitmapFormula::Op::kOr || in.op == BitmapFormula::Op::kAndNot) {
      --depth;
    }
  }
  const size_t words = (max_depth + 1) * kBlockWords;
  temps_.reset(static_cast<uint64_t*>(std::aligned_alloc(64, words * sizeof(uint64_t))));
  if (temps_ == nullptr) std::abort();
  universe_block_ = temps_.get() + max_depth * kBlockWords;
  stack_.reserve(max_depth);
  refs_.reserve(max_depth);
  folded_.reserve(f.code.size());
  steps_.reserve(f.code.size());
}

DenseEvaluator::Entry DenseEvaluator::Combine(Entry x, Entry y, bool is_or) {
  if (x.is_const || y.is_const) {
    const Entry& c = x.is_const ? x : y;
    if (c.neg == is_or) {  // zero for AND, ones for OR: decides the result
      folded_.resize(x.begin);
      return {true, is_or, x.begin};
    }
    Entry other = x.is_const ? y : x;  // the constant is the identity
    other.begin = x.begin;
    return other;
  }
  // De Morgan turns every complemented input into one of four kernels and a
  // complemented result.
  WordOp op;
  bool neg;
  if (!is_or) {
    if (!x.neg) {
      op = y.neg ? WordOp::kAndNot : WordOp::kAnd;
      neg = false;
    } else {
      op = y.neg ? WordOp::kOr : WordOp::kNotAnd;  // ~a & ~b = ~(a | b)
      neg = y.neg;
    }
  } else {
    if (!x.neg) {
      op = y.neg ? WordOp::kNotAnd : WordOp::kOr;  // a | ~b = ~(~a & b)
      neg = y.neg;
    } else {
      op = y.neg ? WordOp::kAnd : WordOp::kAndNot;  // ~a | ~b = ~(a & b); ~a | b = ~(a & ~b)
      neg = true;
    }
  }
  folded_.push_back({false, op, 0});
  return {false, neg, x.begin};
}

DenseEvaluator::Entry DenseEvaluator::Fold() {
  stack_.clear();
  folded_.clear();
  for (const BitmapFormula::Instr& in : f_.code) {
    switch (in.op) {
      case BitmapFormula::Op::kPush: {
        const uint32_t s = source_of_[in.arg];
        const Source& src = sources_[s];
        const uint32_t begin = static_cast<uint32_t>(folded_.size());
        if (src.container == nullptr || src.full) {
          stack_.push_back({true, src.full, begin});
        } else {
          stack_.push_back({false, false, begin});
          folded_.push_back({true, WordOp::kFirst, s});
        }
        break;
      }
      case BitmapFormula::Op::kNot:
        stack_.back().neg = !stack_.back().neg;
        break;
      default: {
        Entry y = stack_.back();
        stack_.pop_back();
        const Entry x = stack_.back();
        stack_.pop_back();
        if (in.op == BitmapFormula::Op::kAndNot) y.neg = !y.neg;
        stack_.push_back(Combine(x, y, in.op == BitmapFormula::Op::kOr));
        break;
      }
    }
  }
  return stack_.back();
}

void DenseEvaluator::Compile(bool neg) {
  refs_.clear();
  steps_.clear();
  for (const Folded& in : folded_) {
    const uint32_t slot = static_cast<uint32_t>(refs_.size());
    if (in.leaf) {
      const uint64_t* words = sources_[in.source].InPlaceWords();
      leaf_words_[in.source] = words;
      if (words != nullptr) {
        refs_.push_back({false, in.source});
      } else {
        steps_.push_back({true, WordOp::kFirst, slot, {}, {}, in.source});
        refs_.push_back({true, slot});
      }
      continue;
    }
    const Ref b = refs_.back();
    refs_.pop_back();
    const Ref a = refs_.back();
    refs_.pop_back();
    const uint32_t dst = slot - 2;
    steps_.push_back({false, in.op, dst, a, b, 0});
    refs_.push_back({true, dst});
  }
  // The last step computes the root; it runs fused with the mask and count.
  if (!steps_.empty() && !steps_.back().expand) {
    final_ = steps_.back();
    steps_.pop_back();
  } else {
    final_ = {false, WordOp::kFirst, 0, refs_.back(), refs_.back(), 0};
  }
  PlanChain(neg);
}

void DenseEvaluator::PlanChain(bool neg) {
  chain_.clear();
  const auto conjunct = [](WordOp op) { return op == WordOp::kAnd || op == WordOp::kAndNot; };
  if (neg || !conjunct(final_.op) || !final_.a.temp) return;
  const uint32_t acc = final_.a.index;
  size_t j = steps_.size();
  // Appends the link `kind` of the operand behind `b`, in place or expanded by
  // step j - 1, whose own step (if any) is steps_[j].
  const auto take = [&](WordOp op, Ref b) {
    if (!b.temp) {
      chain_.push_back({op, b.index, j, 0, 0});
      return true;
    }
    if (j > 0 && steps_[j - 1].expand && steps_[j - 1].dst == b.index) {
      --j;
      chain_.push_back({op, steps_[j].source, j, 0, 0});
      return true;
    }
    return false;
  };
  if (!take(final_.op, final_.b)) return;
  while (j > 0) {
    const Step& s = steps_[j - 1];
    if (s.expand || !conjunct(s.op) || s.dst != acc || !s.a.temp || s.a.index != acc) break;
    const size_t before = j;
    --j;
    if (!take(s.op, s.b)) {
      j = before;
      break;
    }
  }
  if (j == 0 || steps_[j - 1].dst != acc) {
    chain_.clear();
    return;
  }
  std::reverse(chain_.begin(), chain_.end());
  // Rough cycle costs per block: combining an operand costs a pass over the
  // block plus its expansion; probing costs a scan of the block plus, per
  // member, a mispredicted branch and a test per link (a bit test against a
  // bitset, a binary search otherwise).
  constexpr uint64_t kScanCost = 256;
  constexpr uint64_t kMemberCost = 20;
  uint64_t combine_cost = 0;
  uint64_t test_cost = kMemberCost + (universe_.full ? 0 : 30);
  uint64_t max_limit = 0;
  for (size_t k = chain_.size(); k-- > 0;) {
    Link& link = chain_[k];
    const Source& src = sources_[link.source];
    combine_cost += 64;
    if (src.type == ARRAY_CONTAINER_TYPE_CODE) {
      combine_cost += static_cast<uint64_t>(static_cast<const array_container_t*>(src.container)->cardinality);
    } else if (src.type == RUN_CONTAINER_TYPE_CODE) {
      combine_cost += 256 + 2 * static_cast<uint64_t>(static_cast<const run_container_t*>(src.container)->n_runs);
    }
    test_cost += src.type == BITSET_CONTAINER_TYPE_CODE ? 4 : 30;
    link.probe_limit = combine_cost > kScanCost ? (combine_cost - kScanCost) / test_cost : 0;
    max_limit = std::max(max_limit, link.probe_limit);
    const double share = container_get_cardinality(src.container, src.type) / 65536.0;
    link.keep = link.op == WordOp::kAnd ? share : 1 - share;
  }
  if (max_limit == 0) chain_.clear();  // counting members would not pay
}

uint64_t DenseEvaluator::ProbeBlock(const uint64_t* acc, size_t first_link, int block, bool mask, uint64_t* out) const {
  if (out != nullptr) std::memset(out, 0, kBlockWords * sizeof(uint64_t));
  uint64_t count = 0;
  for (int w = 0; w < kBlockWords; ++w) {
    if (acc[w] == 0) continue;
    for (uint64_t x = acc[w]; x != 0; x &= x - 1) {
      const int bit = std::countr_zero(x);
      const auto v = static_cast<uint16_t>(block * kBlockBits + w * 64 + bit);
      bool keep = !mask || container_contains(universe_.container, v, universe_.type);
      for (size_t k = first_link; keep && k < chain_.size(); ++k) {
        const Source& src = sources_[chain_[k].source];
        keep = container_contains(src.container, v, src.type) == (chain_[k].op == WordOp::kAnd);
      }
      if (!keep) continue;
      ++count;
      if (out != nullptr) out[w] |= uint64_t{1} << bit;
    }
  }
  return count;
}

uint64_t DenseEvaluator::RunChunk(bool mask, bool neg, uint64_t* out) {
  const FinishFn finish = internal::SelectFinish(simd_, final_.op, neg, mask, out != nullptr);
  const FinishFn popcount = internal::SelectFinish(simd_, WordOp::kFirst, false, false, false);
  const uint64_t* universe_words = mask ? universe_.InPlaceWords() : nullptr;
  const uint64_t* acc = chain_.empty() ? nullptr : temps_.get() + size_t{final_.a.index} * kBlockWords;
  uint64_t count = 0;
  for (int block = 0; block < kBlocksPerChunk; ++block) {
    uint64_t* block_out = out != nullptr ? out + block * kBlockWords : nullptr;
    // Before the work of chain_[link], at steps_[check], count the running
    // result; probe if it is sparse enough, else pick the next link where
    // it is expected to be.
    size_t link = 0;
    size_t check = chain_.empty() ? SIZE_MAX : chain_[0].first_step;
    bool probed = false;
    for (size_t i = 0; i <= steps_.size(); ++i) {
      if (i == check) {
        const uint64_t members = popcount(acc, nullptr, nullptr, nullptr);
        if (members == 0 || members <= chain_[link].probe_limit) {
          if (members != 0) {
            count += ProbeBlock(acc, link, block, mask, block_out);
          } else if (block_out != nullptr) {
            std::memset(block_out, 0, kBlockWords * sizeof(uint64_t));
          }
          probed = true;
          break;
        }
        check = SIZE_MAX;
        double expected = static_cast<double>(members);
        for (size_t k = link + 1; k < chain_.size(); ++k) {
          expected *= chain_[k - 1].keep;
          if (expected <= static_cast<double>(chain_[k].probe_limit)) {
            link = k;
            check = chain_[k].first_step;
            break;
          }
        }
      }
      if (i == steps_.size()) break;
      const Step& s = steps_[i];
      uint64_t* dst = temps_.get() + size_t{s.dst} * kBlockWords;
      if (s.expand) {
        const Source& src = sources_[s.source];
        ExpandBlock(src.container, src.type, src.mostly_full, block, dst);
      } else {
        internal::SelectStep(simd_, s.op)(dst, Words(s.a, block), Words(s.b, block));
      }
    }
    if (probed) continue;
    const uint64_t* u = nullptr;
    if (mask) {
      if (universe_words != nullptr) {
        u = universe_words + block * kBlockWords;
      } else {
        ExpandBlock(universe_.container, universe_.type, universe_.mostly_full, block, universe_block_);
        u = universe_block_;
      }
    }
    count += finish(Words(final_.a, block), Words(final_.b, block), u, block_out);
  }
  return count;
}

void DenseEvaluator::AppendResult(roaring_bitmap_t* result, uint16_t key, uint64_t cardinality) {
  if (cardinality == 0) return;
  roaring_array_t* ra = &result->high_low_container;
  if (cardinality > static_cast<uint64_t>(kMaxArrayCardinality)) {
    spare_->cardinality = static_cast<int32_t>(cardinality);
    ra_append(ra, key, spare_, BITSET_CONTAINER_TYPE_CODE);
    spare_ = nullptr;
    return;
  }
  array_container_t* a =
      array_container_create_given_capacity(static_cast<int32_t>(cardinality + internal::kExtractSlack));
  if (a == nullptr) std::abort();
  internal::ExtractBits(simd_, spare_->array, cardinality, a->array);
  a->cardinality = static_cast<int32_t>(cardinality);
  ra_append(ra, key, a, ARRAY_CONTAINER_TYPE_CODE);
}

uint64_t DenseEvaluator::Run(roaring_bitmap_t* result) {
  uint64_t total = 0;
  for (int32_t i = 0; i < universe_.ra->size; ++i) {
    const uint16_t key = universe_.ra->keys[i];
    universe_.Load(i);
    for (Source& s : sources_) s.Locate(key);

    const Entry root = Fold();
    if (root.is_const) {
      if (!root.neg) continue;
      total += static_cast<uint64_t>(container_get_cardinality(universe_.container, universe_.type));
      if (result != nullptr) {
        void* copy = container_clone(universe_.container, universe_.type);
        if (copy == nullptr) std::abort();
        ra_append(&result->high_low_container, key, copy, universe_.type);
      }
      continue;
    }
    Compile(root.neg);
    uint64_t* out = nullptr;
    if (result != nullptr) {
      if (spare_ == nullptr) spare_ = bitset_container_create();
      if (spare_ == nullptr) std::abort();
      out = spare_->array;
    }
    const uint64_t cardinality = RunChunk(!universe_.full, root.neg, out);
    total += cardinality;
    if (result != nullptr) AppendResult(result, key, cardinality);
  }
  return total;
}

absl::StatusOr<uint64_t> CountFormula(const BitmapFormula& f, const Bitmap& universe) {
  if (absl::Status s = ValidateFormula(f); !s.ok()) return s;
  return DenseEvaluator(f, universe, internal::CpuHasAvx2()).Count();
}

absl::StatusOr<Bitmap> EvaluateFormula(const BitmapFormula& f, const Bitmap& universe) {
  if (absl::Status s = ValidateFormula(f); !s.ok()) return s;
  return DenseEvaluator(f, universe, internal::CpuHasAvx2()).Evaluate();
}

absl::StatusOr<uint64_t> CountFormulaPortableForTest(const BitmapFormula& f, const Bitmap& universe) {
  if (absl::Status s = ValidateFormula(f); !s.ok()) return s;
  return DenseEvaluator(f, universe, false).Count();
}

absl::StatusOr<Bitmap> EvaluateFormulaPortableForTest(const BitmapFormula& f, const Bitmap& universe) {
  if (absl::Status s = ValidateFormula(f); !s.ok()) return s;
  return DenseEvaluator(f, universe, false).Evaluate();
}

}  // namespace facet::bitmap
