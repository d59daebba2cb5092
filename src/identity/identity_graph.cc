#include "identity/identity_graph.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "base/status.h"
#include "identity/internal/record_codec.h"
#include "store/key_codec.h"

namespace facet::identity {
namespace {

using Digest = IdentifierDigest;

// HMAC output is uniformly distributed, so its first 8 bytes are a good hash.
struct DigestHash {
  size_t operator()(const Digest& d) const {
    uint64_t h = 0;
    std::memcpy(&h, d.data(), sizeof h);
    return static_cast<size_t>(h);
  }
};

// A refusal already in the log: the same link refused again is reported with
// the existing entry instead of growing the log on every event.
struct RefusalKey {
  PersonId survivor = kNoPerson;
  PersonId absorbed = kNoPerson;
  Digest via{};
  friend bool operator==(const RefusalKey&, const RefusalKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const RefusalKey& k) {
    return H::combine(std::move(h), k.survivor, k.absorbed, DigestHash()(k.via));
  }
};

// Identifiers per namespace (interned) in some set of atoms.
struct NsCount {
  uint32_t ns;
  uint32_t n;
};
using NsCounts = absl::InlinedVector<NsCount, 4>;

uint32_t CountOf(const NsCounts& c, uint32_t ns) {
  for (const NsCount& e : c) {
    if (e.ns == ns) return e.n;
  }
  return 0;
}

void AddCount(NsCounts& c, uint32_t ns, uint32_t n) {
  for (NsCount& e : c) {
    if (e.ns == ns) {
      e.n += n;
      return;
    }
  }
  c.push_back(NsCount{ns, n});
}

void SubtractCounts(NsCounts& c, const NsCounts& sub) {
  for (const NsCount& s : sub) {
    for (NsCount& e : c) {
      if (e.ns == s.ns) {
        e.n -= std::min(e.n, s.n);
        break;
      }
    }
  }
}

constexpr int64_t kUnlimited = -1;
constexpr size_t kMaxIdentifiers = std::numeric_limits<uint32_t>::max();

absl::Status Corrupt(const std::string& what) { return absl::DataLossError("corrupt identity graph: " + what); }

}  // namespace

struct IdentityGraph::State {
  struct Atom {
    PersonId parent = kNoPerson;
    PersonId root = kNoPerson;  // cached; kept exact on merge and undo
    uint64_t attached_by = 0;   // merge that attached it to `parent`
    TimeMs created_at = 0;
    std::vector<PersonId> children;  // in merge order
    std::vector<uint32_t> own;       // indices into `identifiers`, ascending
    NsCounts counts;                 // identifiers per namespace in the subtree
    std::vector<uint64_t> merges;    // log entries naming this atom
    std::vector<Claim> claims;       // unverified, oldest first
  };
  struct IdentEntry {
    Identifier id;
    uint32_t ns;
    PersonId atom;
  };

  // Growing `atoms` and `identifiers` must move elements, not copy them.
  static_assert(std::is_nothrow_move_constructible_v<Atom>);
  static_assert(std::is_nothrow_move_constructible_v<IdentEntry>);

  State(store::KvStore& kv_in, IdentityOptions options_in)
      : kv(kv_in), options(std::move(options_in)), pseudonymizer(options.hmac_key) {
    user_id_ns = Intern(kUserId);
  }

  store::KvStore& kv;
  IdentityOptions options;
  Pseudonymizer pseudonymizer;

  // Interned namespaces and their caps.
  std::vector<std::string> ns_names;
  absl::flat_hash_map<std::string, uint32_t> ns_ids;
  std::vector<int64_t> ns_caps;
  uint32_t user_id_ns = 0;
  std::vector<bool> ns_claims;  // by namespace: a claim from client sources

  std::vector<Atom> atoms;
  std::vector<IdentEntry> identifiers;  // in the order they were added
  absl::flat_hash_map<Digest, PersonId, DigestHash> index;
  std::vector<MergeRecord> merges;  // merge id i is merges[i - 1]
  absl::flat_hash_map<RefusalKey, uint64_t> refusals;

  uint64_t persons = 0;
  uint64_t merged = 0;
  uint64_t refused = 0;
  bool key_check_written = false;

  uint32_t Intern(std::string_view ns) {
    auto it = ns_ids.find(absl::string_view(ns.data(), ns.size()));
    if (it != ns_ids.end()) return it->second;
    const auto id = static_cast<uint32_t>(ns_names.size());
    ns_names.emplace_back(ns);
    ns_ids.emplace(std::string(ns), id);
    auto cap = options.max_per_namespace.find(ns);
    ns_caps.push_back(cap == options.max_per_namespace.end() ? kUnlimited : std::max<int64_t>(cap->second, 0));
    ns_claims.push_back(ns != kUserId && ns != kAnonymousId &&
                        std::find(options.claim_namespaces.begin(), options.claim_namespaces.end(), ns) !=
                            options.claim_namespaces.end());
    return id;
  }

  Digest DigestOf(std::string_view ns, std::string_view value) const {
    Digest d;
    pseudonymizer.DigestInto(ns, value, d);
    return d;
  }

  std::string KeyCheck() const { return pseudonymizer.Digest(internal::kMetaKeyCheck, ""); }

  PersonId NewAtom(TimeMs at) {
    const auto id = static_cast<PersonId>(atoms.size());
    Atom& a = atoms.emplace_back();
    a.root = id;
    a.created_at = at;
    ++persons;
    return id;
  }

  // Preorder over the subtree of `top`, children in merge order.
  template <typename F>
  void ForEachInSubtree(PersonId top, F&& f) const {
    absl::InlinedVector<PersonId, 16> stack = {top};
    while (!stack.empty()) {
      const PersonId a = stack.back();
      stack.pop_back();
      f(a);
      const auto& ch = atoms[a].children;
      for (auto it = ch.rbegin(); it != ch.rend(); ++it) stack.push_back(*it);
    }
  }

  void SetRoot(PersonId top, PersonId root) {
    ForEachInSubtree(top, [&](PersonId a) { atoms[a].root = root; });
  }

  uint64_t Log(MergeRecord r) {
    r.id = merges.size() + 1;
    if (r.survivor != kNoPerson) atoms[r.survivor].merges.push_back(r.id);
    if (r.absorbed != kNoPerson) atoms[r.absorbed].merges.push_back(r.id);
    if (r.status == MergeStatus::kMerged) ++merged;
    if (r.status == MergeStatus::kRefused) ++refused;
    merges.push_back(std::move(r));
    return merges.back().id;
  }

  // Why `adding` identifiers of namespace `ns` (from a merge, or one new
  // identifier) cannot join `root`; the caller has established that the cap
  // is exceeded. Never contains values of PII namespaces.
  std::string CapDetail(PersonId root, uint32_t ns, uint32_t adding, bool merging) const {
    const int64_t cap = ns_caps[ns];
    if (ns == user_id_ns) {
      std::string have;
      const bool pii = IsPii(kUserId, options);
      ForEachInSubtree(root, [&](PersonId a) {
        for (uint32_t i : atoms[a].own) {
          if (identifiers[i].ns != ns) continue;
          if (!have.empty()) have += ", ";
          have +=
              pii ? pseudonymizer.HexDigest(kUserId, identifiers[i].id.value).substr(0, 12) : identifiers[i].id.value;
        }
      });
      if (!have.empty()) {
        return "person already has user_id " + have + "; user_id limit is " + std::to_string(cap);
      }
    }
    const uint32_t existing = CountOf(atoms[root].counts, ns);
    if (!merging) return ns_names[ns] + " limit " + std::to_string(cap) + " reached";
    return ns_names[ns] + " limit " + std::to_string(cap) + " would be exceeded (" + std::to_string(existing) + " + " +
           std::to_string(adding) + ")";
  }

  // Empty if `other` may merge into `target`, else the rule it breaks.
  std::string CheckMerge(PersonId target, PersonId other) const {
    const NsCounts& t = atoms[target].counts;
    const NsCounts& o = atoms[other].counts;
    // user_id first: it is the rule users see most and ask about.
    for (int pass = 0; pass < 2; ++pass) {
      for (const NsCount& e : o) {
        if ((e.ns == user_id_ns) != (pass == 0) || e.n == 0) continue;
        const int64_t cap = ns_caps[e.ns];
        if (cap != kUnlimited && int64_t{CountOf(t, e.ns)} + e.n > cap) {
          return CapDetail(target, e.ns, e.n, /*merging=*/true);
        }
      }
    }
    return {};
  }

  bool FitsCap(PersonId root, uint32_t ns) const {
    const int64_t cap = ns_caps[ns];
    return cap == kUnlimited || int64_t{CountOf(atoms[root].counts, ns)} + 1 <= cap;
  }

  void PutAtom(PersonId id, store::WriteBatch* batch) const {
    const Atom& a = atoms[id];
    internal::AtomRecord r;
    r.parent = a.parent;
    r.attached_by = a.attached_by;
    r.created_at = a.created_at;
    r.identifiers.reserve(a.own.size());
    for (uint32_t i : a.own) r.identifiers.push_back({i, identifiers[i].id});
    r.claims = a.claims;
    batch->Put(store::Column::kPersons, store::Fixed32Key(id), internal::EncodeAtomRecord(r));
  }

  void PutMerge(uint64_t id, store::WriteBatch* batch) const {
    batch->Put(store::Column::kMerges, store::Fixed64Key(id), internal::EncodeMergeRecord(merges[id - 1]));
  }

  void PutMeta(store::WriteBatch* batch) {
    batch->Put(store::Column::kMeta, internal::kMetaNextPerson, store::Fixed64Key(atoms.size()));
    batch->Put(store::Column::kMeta, internal::kMetaNextMerge, store::Fixed64Key(merges.size() + 1));
    if (!key_check_written) {
      batch->Put(store::Column::kMeta, internal::kMetaKeyCheck, KeyCheck());
      key_check_written = true;
    }
  }

  // Records (or refreshes) `id` as an unverified claim of atom `root`,
  // keeping the newest kMaxClaimsPerAtom.
  void AddClaim(PersonId root, const Identifier& id, TimeMs at) {
    std::vector<Claim>& claims = atoms[root].claims;
    auto same = std::find_if(claims.begin(), claims.end(), [&](const Claim& c) { return c.id == id; });
    if (same != claims.end()) {
      claims.erase(same);
      --claims_held;
    }
    claims.push_back(Claim{id, at});
    ++claims_held;
    if (claims.size() > IdentityGraph::kMaxClaimsPerAtom) {
      claims.erase(claims.begin());
      --claims_held;
    }
  }

  // Removes claim `id` from every atom of `root`'s tree (it is confirmed).
  template <typename Mark>
  void DropClaim(PersonId root, const Identifier& id, Mark& mark) {
    ForEachInSubtree(root, [&](PersonId a) {
      std::vector<Claim>& claims = atoms[a].claims;
      auto it = std::find_if(claims.begin(), claims.end(), [&](const Claim& c) { return c.id == id; });
      if (it == claims.end()) return;
      claims.erase(it);
      --claims_held;
      mark(a);
    });
  }

  size_t claims_held = 0;

  absl::Status LoadFrom(const store::KvStore& store);
};

// ---------------------------------------------------------------------------
// Loading

namespace {

absl::StatusOr<std::optional<std::string>> GetOptional(const store::KvStore& kv, store::Column c,
                                                       std::string_view key) {
  absl::StatusOr<std::string> v = kv.Get(c, key);
  if (v.ok()) return std::optional<std::string>(std::move(*v));
  if (absl::IsNotFound(v.status())) return std::optional<std::string>();
  return Annotate(v.status(), "reading " + std::string(key));
}

absl::StatusOr<std::optional<uint64_t>> GetCounter(const store::KvStore& kv, std::string_view key) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, GetOptional(kv, store::Column::kMeta, key));
  if (!v) return std::optional<uint64_t>();
  if (v->size() != 8) return Corrupt(std::string(key) + " is not 8 bytes");
  return std::optional<uint64_t>(store::DecodeFixed64BE(*v));
}

}  // namespace

absl::Status IdentityGraph::State::LoadFrom(const store::KvStore& store) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> next_person, GetCounter(store, internal::kMetaNextPerson));
  ASSIGN_OR_RETURN(std::optional<uint64_t> next_merge, GetCounter(store, internal::kMetaNextMerge));
  ASSIGN_OR_RETURN(std::optional<std::string> key_check,
                   GetOptional(store, store::Column::kMeta, internal::kMetaKeyCheck));
  if (key_check) {
    if (*key_check != KeyCheck()) {
      return absl::FailedPreconditionError(
          "identity graph: hmac_key differs from the key the stored index was built with");
    }
    key_check_written = true;
  }

  // Atoms: keys 0..n-1, dense.
  struct Pending {
    uint64_t seq;
    PersonId atom;
    Identifier id;
  };
  std::vector<Pending> pending;
  {
    std::unique_ptr<store::Iterator> it = store.NewIterator(store::Column::kPersons);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = it->key();
      if (key.size() != 4) return Corrupt("person key of " + std::to_string(key.size()) + " bytes");
      const PersonId id = store::DecodeFixed32BE(key);
      if (id != atoms.size()) {
        return Corrupt("person " + std::to_string(atoms.size()) + " missing (next key is " + std::to_string(id) + ")");
      }
      if (id == kNoPerson) return Corrupt("person id out of range");
      absl::StatusOr<internal::AtomRecord> rec = internal::DecodeAtomRecord(it->value());
      if (!rec.ok()) return Annotate(rec.status(), "person " + std::to_string(id));
      Atom& a = atoms.emplace_back();
      a.parent = rec->parent;
      a.attached_by = rec->attached_by;
      a.created_at = rec->created_at;
      a.claims = std::move(rec->claims);
      claims_held += a.claims.size();
      for (internal::StoredIdentifier& s : rec->identifiers) {
        pending.push_back(Pending{s.seq, id, std::move(s.id)});
      }
    }
    RETURN_IF_ERROR(Annotate(it->status(), "reading persons"));
  }
  if (next_person.value_or(0) != atoms.size()) {
    return Corrupt("identity/next_person is " + std::to_string(next_person.value_or(0)) + " but " +
                   std::to_string(atoms.size()) + " persons are stored");
  }
  const auto n = static_cast<PersonId>(atoms.size());

  // Identifiers: sequence numbers 0..m-1, each once.
  if (pending.size() > kMaxIdentifiers) return Corrupt("too many identifiers");
  identifiers.resize(pending.size());
  std::vector<bool> seen(pending.size(), false);
  for (Pending& p : pending) {
    if (p.seq >= pending.size() || seen[p.seq]) {
      return Corrupt("person " + std::to_string(p.atom) + " has identifier sequence " + std::to_string(p.seq) +
                     " out of range or repeated");
    }
    if (p.id.ns.empty() || p.id.value.empty()) {
      return Corrupt("person " + std::to_string(p.atom) + " has an empty identifier");
    }
    seen[p.seq] = true;
    const uint32_t ns = Intern(p.id.ns);
    identifiers[p.seq] = IdentEntry{std::move(p.id), ns, p.atom};
  }
  for (uint32_t i = 0; i < identifiers.size(); ++i) {
    Atom& a = atoms[identifiers[i].atom];
    a.own.push_back(i);
    AddCount(a.counts, identifiers[i].ns, 1);
  }

  // Merge log: ids 1..k, dense.
  {
    std::unique_ptr<store::Iterator> it = store.NewIterator(store::Column::kMerges);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = it->key();
      if (key.size() != 8) return Corrupt("merge key of " + std::to_string(key.size()) + " bytes");
      const uint64_t id = store::DecodeFixed64BE(key);
      if (id != merges.size() + 1) {
        return Corrupt("merge " + std::to_string(merges.size() + 1) + " missing (next key is " + std::to_string(id) +
                       ")");
      }
      absl::StatusOr<MergeRecord> rec = internal::DecodeMergeRecord(id, it->value());
      if (!rec.ok()) return Annotate(rec.status(), "merge " + std::to_string(id));
      const bool absorbed_ok =
          rec->absorbed < n || (rec->absorbed == kNoPerson && rec->status == MergeStatus::kRefused);
      if (rec->survivor >= n || !absorbed_ok || rec->survivor == rec->absorbed) {
        return Corrupt("merge " + std::to_string(id) + " names unknown persons");
      }
      if (rec->status == MergeStatus::kRefused) {
        refusals.emplace(RefusalKey{rec->survivor, rec->absorbed, DigestOf(rec->via.ns, rec->via.value)}, id);
      }
      atoms[rec->survivor].merges.push_back(id);
      if (rec->absorbed != kNoPerson) atoms[rec->absorbed].merges.push_back(id);
      if (rec->status == MergeStatus::kMerged) ++merged;
      if (rec->status == MergeStatus::kRefused) ++refused;
      merges.push_back(*std::move(rec));
    }
    RETURN_IF_ERROR(Annotate(it->status(), "reading merges"));
  }
  if (next_merge.value_or(1) != merges.size() + 1) {
    return Corrupt("identity/next_merge is " + std::to_string(next_merge.value_or(1)) + " but " +
                   std::to_string(merges.size()) + " merges are stored");
  }

  // Tree edges must match the live merges exactly.
  std::vector<std::pair<uint64_t, PersonId>> edges;  // (merge id, child)
  for (PersonId a = 0; a < n; ++a) {
    const Atom& atom = atoms[a];
    if (atom.parent == kNoPerson) {
      if (atom.attached_by != 0) return Corrupt("root " + std::to_string(a) + " has a merge");
      continue;
    }
    const uint64_t m = atom.attached_by;
    if (atom.parent >= n || m == 0 || m > merges.size() || merges[m - 1].status != MergeStatus::kMerged ||
        merges[m - 1].survivor != atom.parent || merges[m - 1].absorbed != a) {
      return Corrupt("person " + std::to_string(a) + " has a parent without a matching merge");
    }
    edges.emplace_back(m, a);
  }
  for (const MergeRecord& m : merges) {
    if (m.status == MergeStatus::kMerged && atoms[m.absorbed].attached_by != m.id) {
      return Corrupt("merge " + std::to_string(m.id) + " is live but not in the tree");
    }
  }
  std::sort(edges.begin(), edges.end());
  for (const auto& [m, child] : edges) atoms[atoms[child].parent].children.push_back(child);

  // Roots and subtree counts; every atom must hang under exactly one root.
  std::vector<PersonId> order;
  size_t reached = 0;
  for (PersonId r = 0; r < n; ++r) {
    if (atoms[r].parent != kNoPerson) continue;
    ++persons;
    order.clear();
    ForEachInSubtree(r, [&](PersonId a) {
      atoms[a].root = r;
      order.push_back(a);
    });
    reached += order.size();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const Atom& a = atoms[*it];
      if (a.parent == kNoPerson) continue;
      for (const NsCount& c : a.counts) AddCount(atoms[a.parent].counts, c.ns, c.n);
    }
  }
  if (reached != n) return Corrupt("the merge tree has a cycle");

  // Index: one entry per identifier, each naming the atom that holds it.
  {
    std::unique_ptr<store::Iterator> it = store.NewIterator(store::Column::kIdentities);
    index.reserve(identifiers.size());
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view ns;
      std::string_view digest;
      RETURN_IF_ERROR(internal::ParseIdentityKey(it->key(), &ns, &digest));
      if (it->value().size() != 4) return Corrupt("index value is not 4 bytes");
      const PersonId atom = store::DecodeFixed32BE(it->value());
      if (atom >= n) return Corrupt("index names unknown person " + std::to_string(atom));
      Digest d;
      std::memcpy(d.data(), digest.data(), d.size());
      if (!index.emplace(d, atom).second) return Corrupt("index has a repeated digest");
    }
    RETURN_IF_ERROR(Annotate(it->status(), "reading identity index"));
  }
  if (index.size() != identifiers.size()) {
    return Corrupt("index has " + std::to_string(index.size()) + " entries for " + std::to_string(identifiers.size()) +
                   " identifiers");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// IdentityGraph

IdentityGraph::IdentityGraph(store::KvStore& kv, IdentityOptions options)
    : state_(std::make_unique<State>(kv, std::move(options))) {}

IdentityGraph::~IdentityGraph() = default;

absl::Status IdentityGraph::Load() {
  // Build aside and swap, so that a failed load leaves the graph as it was.
  auto fresh = std::make_unique<State>(state_->kv, state_->options);
  RETURN_IF_ERROR(Annotate(fresh->LoadFrom(fresh->kv), "loading identity graph"));
  state_ = std::move(fresh);
  return absl::OkStatus();
}

absl::StatusOr<ResolveResult> IdentityGraph::Resolve(std::span<const Identifier> ids, TimeMs at,
                                                     std::string_view reason, store::WriteBatch* batch,
                                                     SourceTrust trust) {
  absl::InlinedVector<Digest, 8> digests(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) state_->pseudonymizer.DigestInto(ids[i].ns, ids[i].value, digests[i]);
  return Resolve(ids, digests, at, reason, batch, trust);
}

absl::StatusOr<ResolveResult> IdentityGraph::Resolve(std::span<const Identifier> ids,
                                                     std::span<const IdentifierDigest> digests, TimeMs at,
                                                     std::string_view reason, store::WriteBatch* batch,
                                                     SourceTrust trust) {
  if (ids.empty()) return absl::InvalidArgumentError("Resolve needs at least one identifier");
  if (batch == nullptr) return absl::InvalidArgumentError("Resolve needs a write batch");
  if (digests.size() != ids.size()) {
    return absl::InvalidArgumentError("Resolve needs one digest per identifier: " + std::to_string(ids.size()) +
                                      " identifiers, " + std::to_string(digests.size()) + " digests");
  }
  State& s = *state_;

  struct Item {
    const Identifier* id;
    Digest digest;
    PersonId atom;  // holder, or kNoPerson if unknown
    bool claim;     // from a client source, in a claim namespace
  };
  absl::InlinedVector<Item, 8> items;
  auto add = [&](size_t i) -> absl::Status {
    const Identifier& id = ids[i];
    if (id.ns.empty() || id.ns.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("identifier namespace '" + id.ns + "' is invalid");
    }
    if (id.value.empty()) {
      return absl::InvalidArgumentError("identifier '" + id.ns + "' has an empty value");
    }
    Item item{&id, digests[i], kNoPerson, trust == SourceTrust::kClient && s.ns_claims[s.Intern(id.ns)]};
    for (const Item& other : items) {
      if (other.digest == item.digest) return absl::OkStatus();  // repeated in this call
    }
    auto it = s.index.find(item.digest);
    if (it != s.index.end()) item.atom = it->second;
    items.push_back(item);
    return absl::OkStatus();
  };
  // Most trusted first: user_id, then the others in the order given.
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].ns == kUserId) RETURN_IF_ERROR(add(i));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].ns != kUserId) RETURN_IF_ERROR(add(i));
  }

  // A user_id the graph already knew vouches for its own person's claims.
  const PersonId vouching_atom =
      !items.empty() && items[0].id->ns == kUserId && !items[0].claim ? items[0].atom : kNoPerson;
  PersonId target = kNoPerson;
  size_t unknown = 0;
  for (const Item& item : items) {
    if (item.atom == kNoPerson) {
      ++unknown;
    } else if (target == kNoPerson && !item.claim) {
      target = s.atoms[item.atom].root;
    }
  }
  if (target == kNoPerson && s.atoms.size() >= kNoPerson) {
    return absl::ResourceExhaustedError("identity graph: person ids exhausted");
  }
  if (s.identifiers.size() + unknown > kMaxIdentifiers) {
    return absl::ResourceExhaustedError("identity graph: identifier capacity exhausted");
  }

  // From here on nothing fails: memory and batch change together.
  ResolveResult result;
  absl::InlinedVector<PersonId, 4> dirty;
  auto mark = [&](PersonId a) {
    if (std::find(dirty.begin(), dirty.end(), a) == dirty.end()) dirty.push_back(a);
  };
  bool logged = false;
  auto refuse = [&](PersonId absorbed, const Item& item, std::string detail) {
    const RefusalKey key{target, absorbed, item.digest};
    auto it = s.refusals.find(key);
    if (it != s.refusals.end()) {
      result.refusals.push_back(it->second);
      return;
    }
    MergeRecord r;
    r.status = MergeStatus::kRefused;
    r.survivor = target;
    r.absorbed = absorbed;
    r.at = at;
    r.reason = std::string(reason);
    r.via = *item.id;
    r.detail = std::move(detail);
    const uint64_t id = s.Log(std::move(r));
    s.refusals.emplace(key, id);
    s.PutMerge(id, batch);
    result.refusals.push_back(id);
    logged = true;
  };

  // The most trusted identifier is unknown but the person of the others
  // cannot take it (e.g. a new user_id signing in on a device that belongs to
  // another user): it starts a person of its own, and the links to the
  // others are then checked (and refused) like any merge.
  if (target != kNoPerson && items[0].atom == kNoPerson && !items[0].claim &&
      !s.FitsCap(target, s.Intern(items[0].id->ns))) {
    target = s.NewAtom(at);
    result.created = true;
    Item& first = items[0];
    const uint32_t ns = s.Intern(first.id->ns);
    const auto seq = static_cast<uint32_t>(s.identifiers.size());
    s.identifiers.push_back(State::IdentEntry{*first.id, ns, target});
    State::Atom& t = s.atoms[target];
    t.own.push_back(seq);
    AddCount(t.counts, ns, 1);
    s.index.emplace(first.digest, target);
    batch->Put(store::Column::kIdentities, internal::IdentityKey(first.id->ns, first.digest),
               store::Fixed32Key(target));
    first.atom = target;
    mark(target);
  }

  if (target == kNoPerson) {
    target = s.NewAtom(at);
    result.created = true;
    mark(target);
  } else {
    absl::InlinedVector<PersonId, 4> refused_roots;
    for (const Item& item : items) {
      if (item.atom == kNoPerson || item.claim) continue;
      const PersonId other = s.atoms[item.atom].root;
      if (other == target || std::find(refused_roots.begin(), refused_roots.end(), other) != refused_roots.end()) {
        continue;
      }
      std::string why = s.CheckMerge(target, other);
      if (!why.empty()) {
        refused_roots.push_back(other);
        refuse(other, item, std::move(why));
        continue;
      }
      // An identified person survives an anonymous one, so that a known
      // customer keeps their person id when an anonymous visitor turns out
      // to be them.
      PersonId survivor = target;
      PersonId absorbed = other;
      if (CountOf(s.atoms[other].counts, s.user_id_ns) > 0 && CountOf(s.atoms[target].counts, s.user_id_ns) == 0) {
        std::swap(survivor, absorbed);
      }
      MergeRecord r;
      r.status = MergeStatus::kMerged;
      r.survivor = survivor;
      r.absorbed = absorbed;
      r.at = at;
      r.reason = std::string(reason);
      r.via = *item.id;
      const uint64_t id = s.Log(std::move(r));
      State::Atom& o = s.atoms[absorbed];
      o.parent = survivor;
      o.attached_by = id;
      s.atoms[survivor].children.push_back(absorbed);
      for (const NsCount& c : o.counts) AddCount(s.atoms[survivor].counts, c.ns, c.n);
      s.SetRoot(absorbed, survivor);
      --s.persons;
      s.PutMerge(id, batch);
      mark(absorbed);
      result.merges.push_back(id);
      result.absorbed.push_back(absorbed);
      logged = true;
      target = survivor;
    }
  }

  for (const Item& item : items) {
    if (item.claim) {
      if (item.atom != kNoPerson) {
        const PersonId other = s.atoms[item.atom].root;
        if (other != target) {
          refuse(other, item, item.id->ns + " from a client write key does not link persons");
          s.AddClaim(target, *item.id, at);
          mark(target);
        }
        continue;
      }
      if (vouching_atom == kNoPerson || s.atoms[vouching_atom].root != target) {
        s.AddClaim(target, *item.id, at);
        mark(target);
        continue;
      }
      // Confirmed by the person's own user_id: attached below.
    }
    if (item.atom != kNoPerson) continue;
    const uint32_t ns = s.Intern(item.id->ns);
    if (!s.FitsCap(target, ns)) {
      refuse(kNoPerson, item, s.CapDetail(target, ns, 1, /*merging=*/false));
      continue;
    }
    const auto seq = static_cast<uint32_t>(s.identifiers.size());
    s.identifiers.push_back(State::IdentEntry{*item.id, ns, target});
    State::Atom& t = s.atoms[target];
    t.own.push_back(seq);
    AddCount(t.counts, ns, 1);
    s.index.emplace(item.digest, target);
    batch->Put(store::Column::kIdentities, internal::IdentityKey(item.id->ns, item.digest), store::Fixed32Key(target));
    mark(target);
    if (s.claims_held > 0) s.DropClaim(target, *item.id, mark);
  }

  for (PersonId a : dirty) s.PutAtom(a, batch);
  if (result.created || logged) s.PutMeta(batch);
  result.person = target;
  return result;
}

absl::StatusOr<PersonId> IdentityGraph::Find(const Identifier& id) const {
  const State& s = *state_;
  auto it = s.index.find(s.DigestOf(id.ns, id.value));
  if (it == s.index.end()) {
    const bool known = s.ns_ids.contains(id.ns) || id.ns == kUserId || id.ns == kAnonymousId || id.ns == kEmail ||
                       id.ns == kPhone || id.ns == kDeviceId || IsPii(id.ns, s.options) ||
                       s.options.max_per_namespace.contains(id.ns);
    if (!known) {
      return absl::InvalidArgumentError("unknown identifier namespace '" + id.ns +
                                        "': no identifier has it (e.g. user_id, anonymous_id, email, phone)");
    }
    return absl::NotFoundError("no person has identifier '" + id.ns + "'");
  }
  return s.atoms[it->second].root;
}

PersonId IdentityGraph::Root(PersonId atom) const { return Exists(atom) ? state_->atoms[atom].root : kNoPerson; }

bool IdentityGraph::IsRoot(PersonId atom) const { return Exists(atom) && state_->atoms[atom].parent == kNoPerson; }

bool IdentityGraph::Exists(PersonId atom) const { return atom < state_->atoms.size(); }

std::vector<PersonId> IdentityGraph::Members(PersonId root) const {
  std::vector<PersonId> out;
  if (!Exists(root)) return out;
  state_->ForEachInSubtree(root, [&](PersonId a) { out.push_back(a); });
  return out;
}

std::vector<Claim> IdentityGraph::Claims(PersonId root) const {
  const State& s = *state_;
  std::vector<Claim> out;
  if (!Exists(root)) return out;
  s.ForEachInSubtree(root,
                     [&](PersonId a) { out.insert(out.end(), s.atoms[a].claims.begin(), s.atoms[a].claims.end()); });
  std::stable_sort(out.begin(), out.end(), [](const Claim& a, const Claim& b) { return a.at < b.at; });
  return out;
}

std::vector<Identifier> IdentityGraph::Identities(PersonId root) const {
  const State& s = *state_;
  std::vector<Identifier> out;
  if (!Exists(root)) return out;
  std::vector<uint32_t> seqs;
  s.ForEachInSubtree(root, [&](PersonId a) { seqs.insert(seqs.end(), s.atoms[a].own.begin(), s.atoms[a].own.end()); });
  std::sort(seqs.begin(), seqs.end());
  out.reserve(seqs.size());
  for (uint32_t i : seqs) out.push_back(s.identifiers[i].id);
  return out;
}

std::vector<MergeRecord> IdentityGraph::MergesOf(PersonId root) const {
  const State& s = *state_;
  std::vector<MergeRecord> out;
  if (!Exists(root)) return out;
  std::vector<uint64_t> ids;
  s.ForEachInSubtree(root,
                     [&](PersonId a) { ids.insert(ids.end(), s.atoms[a].merges.begin(), s.atoms[a].merges.end()); });
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  out.reserve(ids.size());
  for (uint64_t id : ids) out.push_back(s.merges[id - 1]);
  return out;
}

absl::StatusOr<MergeRecord> IdentityGraph::GetMerge(uint64_t id) const {
  if (id == 0 || id > state_->merges.size()) {
    return absl::NotFoundError("no merge " + std::to_string(id));
  }
  return state_->merges[id - 1];
}

absl::StatusOr<UndoResult> IdentityGraph::UndoMerge(uint64_t id, TimeMs at, store::WriteBatch* batch) {
  if (batch == nullptr) return absl::InvalidArgumentError("UndoMerge needs a write batch");
  State& s = *state_;
  if (id == 0 || id > s.merges.size()) {
    return absl::NotFoundError("no merge " + std::to_string(id));
  }
  MergeRecord& m = s.merges[id - 1];
  if (m.status == MergeStatus::kRefused) {
    return absl::FailedPreconditionError("merge " + std::to_string(id) + " was refused; there is nothing to undo");
  }
  if (m.status == MergeStatus::kUndone) {
    return absl::FailedPreconditionError("merge " + std::to_string(id) + " is already undone");
  }
  const PersonId absorbed = m.absorbed;
  if (absorbed >= s.atoms.size() || s.atoms[absorbed].parent != m.survivor || s.atoms[absorbed].attached_by != id) {
    return absl::FailedPreconditionError("merge " + std::to_string(id) + ": person " + std::to_string(absorbed) +
                                         " is no longer attached by it");
  }

  State::Atom& a = s.atoms[absorbed];
  auto& siblings = s.atoms[a.parent].children;
  siblings.erase(std::find(siblings.begin(), siblings.end(), absorbed));
  for (PersonId p = a.parent; p != kNoPerson; p = s.atoms[p].parent) {
    SubtractCounts(s.atoms[p].counts, a.counts);
  }
  a.parent = kNoPerson;
  a.attached_by = 0;
  s.SetRoot(absorbed, absorbed);
  ++s.persons;
  --s.merged;
  m.status = MergeStatus::kUndone;
  m.undone_at = at;
  s.PutAtom(absorbed, batch);
  s.PutMerge(id, batch);
  return UndoResult{s.atoms[m.survivor].root, absorbed};
}

uint64_t IdentityGraph::person_count() const { return state_->persons; }
uint64_t IdentityGraph::atom_count() const { return state_->atoms.size(); }
uint64_t IdentityGraph::identity_count() const { return state_->identifiers.size(); }
uint64_t IdentityGraph::merge_count() const { return state_->merged; }
uint64_t IdentityGraph::refusal_count() const { return state_->refused; }

const Pseudonymizer& IdentityGraph::pseudonymizer() const { return state_->pseudonymizer; }
const IdentityOptions& IdentityGraph::options() const { return state_->options; }

}  // namespace facet::identity
