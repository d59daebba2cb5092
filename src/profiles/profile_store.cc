#include "profiles/profile_store.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "base/status.h"
#include "store/key_codec.h"

namespace facet::profiles {
namespace {

constexpr std::string_view kWatermarkKey = "profiles/watermark";

// Growing the atom table must move profiles, not copy them.
static_assert(std::is_nothrow_move_constructible_v<Profile>);

const Profile& EmptyProfile() {
  static const Profile kEmpty;
  return kEmpty;
}

}  // namespace

struct ProfileStore::State {
  explicit State(store::KvStore& kv) : kv(kv) {}

  // The atom profile of `id`, growing the table as ids are first seen.
  Profile& Atom(PersonId id) {
    if (id >= atoms.size()) {
      atoms.resize(size_t{id} + 1);
      dirty_flags.resize(size_t{id} + 1, 0);
    }
    return atoms[id];
  }

  const Profile& AtomOrEmpty(PersonId id) const { return id < atoms.size() ? atoms[id] : EmptyProfile(); }

  void MarkDirty(PersonId id) {
    if (!dirty_flags[id]) {
      dirty_flags[id] = 1;
      dirty.push_back(id);
    }
  }

  store::KvStore& kv;
  std::vector<Profile> atoms;                    // indexed by PersonId
  std::vector<uint8_t> dirty_flags;              // parallel to `atoms`
  std::vector<PersonId> dirty;                   // ids with dirty_flags set
  absl::flat_hash_map<PersonId, Profile> views;  // roots with more than one atom
  EventSeq watermark = 0;
  // The running checkpoint round: atoms to write, how many are written, and
  // the watermark it completes.
  std::vector<PersonId> round;
  size_t round_pos = 0;
  EventSeq round_upto = 0;
  bool round_active = false;
};

ProfileStore::ProfileStore(store::KvStore& kv) : state_(std::make_unique<State>(kv)) {}

ProfileStore::~ProfileStore() = default;

absl::Status ProfileStore::Load(PersonId person_limit) {
  std::vector<Profile> atoms;
  std::unique_ptr<store::Iterator> it = state_->kv.NewIterator(store::Column::kProfiles);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = it->key();
    if (key.size() != 4) {
      return absl::DataLossError("corrupt profile checkpoint: key of " + std::to_string(key.size()) + " bytes");
    }
    PersonId id = store::DecodeFixed32BE(key);
    if (id == kNoPerson || id >= person_limit) {
      return absl::DataLossError("corrupt profile checkpoint: person " + std::to_string(id) + " is not a known person");
    }
    absl::StatusOr<Profile> profile = DecodeProfile(it->value());
    if (!profile.ok()) return Annotate(profile.status(), "profile of person " + std::to_string(id));
    if (id >= atoms.size()) atoms.resize(size_t{id} + 1);
    atoms[id] = *std::move(profile);
  }
  RETURN_IF_ERROR(Annotate(it->status(), "reading profile checkpoint"));

  EventSeq watermark = 0;
  absl::StatusOr<std::string> raw = state_->kv.Get(store::Column::kMeta, kWatermarkKey);
  if (raw.ok()) {
    if (raw->size() != 8) {
      return absl::DataLossError("corrupt profile watermark: " + std::to_string(raw->size()) + " bytes");
    }
    watermark = store::DecodeFixed64BE(*raw);
  } else if (!absl::IsNotFound(raw.status())) {
    return Annotate(raw.status(), "reading profile watermark");
  }

  State& s = *state_;
  s.dirty_flags.assign(atoms.size(), 0);
  s.atoms = std::move(atoms);
  s.dirty.clear();
  s.views.clear();
  s.watermark = watermark;
  s.round.clear();
  s.round_pos = 0;
  s.round_active = false;
  return absl::OkStatus();
}

EventSeq ProfileStore::watermark() const { return state_->watermark; }

void ProfileStore::Apply(const Event& e, PersonId root) {
  assert(e.person != kNoPerson);
  if (e.person == kNoPerson) return;
  State& s = *state_;
  Profile& atom = s.Atom(e.person);
  if (e.seq != 0 && e.seq <= atom.applied_seq) return;
  ApplyEvent(e, &atom);
  s.MarkDirty(e.person);

  auto view = s.views.find(root);
  if (view != s.views.end()) {
    ApplyEvent(e, &view->second);
  } else if (root != e.person && root != kNoPerson) {
    // A merged root whose view was never built: start it from the two atoms
    // known here. RebuildView() makes it exact when more atoms belong to it.
    Profile combined = s.AtomOrEmpty(root);
    Combine(atom, &combined);
    s.views.emplace(root, std::move(combined));
  }
}

void ProfileStore::OnMerge(PersonId survivor_root, PersonId absorbed_root) {
  if (survivor_root == absorbed_root) return;
  State& s = *state_;
  auto survivor = s.views.find(survivor_root);
  if (survivor == s.views.end()) {
    survivor = s.views.emplace(survivor_root, s.AtomOrEmpty(survivor_root)).first;
  }
  // Looked up after the insertion above, which may rehash.
  auto absorbed = s.views.find(absorbed_root);
  if (absorbed != s.views.end()) {
    Combine(absorbed->second, &survivor->second);
    s.views.erase(absorbed);
  } else {
    Combine(s.AtomOrEmpty(absorbed_root), &survivor->second);
  }
}

void ProfileStore::RebuildView(PersonId root, std::span<const PersonId> members) {
  State& s = *state_;
  if (members.size() <= 1) {
    s.views.erase(root);
    return;
  }
  Profile combined;
  for (PersonId m : members) Combine(s.AtomOrEmpty(m), &combined);
  s.views.insert_or_assign(root, std::move(combined));
}

const Profile& ProfileStore::View(PersonId root) const {
  const State& s = *state_;
  auto view = s.views.find(root);
  if (view != s.views.end()) return view->second;
  return s.AtomOrEmpty(root);
}

bool ProfileStore::CheckpointStep(EventSeq upto, size_t max_atoms, store::WriteBatch* batch) {
  State& s = *state_;
  if (!s.round_active) {
    if (s.dirty.empty()) {
      // Every stored profile already holds its events up to `upto`.
      if (s.watermark != upto) batch->Put(store::Column::kMeta, kWatermarkKey, store::Fixed64Key(upto));
      s.watermark = upto;
      return false;
    }
    s.round.swap(s.dirty);
    s.dirty.clear();
    for (PersonId id : s.round) s.dirty_flags[id] = 0;
    std::sort(s.round.begin(), s.round.end());
    s.round_pos = 0;
    s.round_upto = upto;
    s.round_active = true;
  }
  const size_t end = std::min(s.round.size(), s.round_pos + max_atoms);
  for (; s.round_pos < end; ++s.round_pos) {
    const PersonId id = s.round[s.round_pos];
    batch->Put(store::Column::kProfiles, store::Fixed32Key(id), EncodeProfile(s.atoms[id]));
  }
  if (s.round_pos < s.round.size()) return true;
  batch->Put(store::Column::kMeta, kWatermarkKey, store::Fixed64Key(s.round_upto));
  s.watermark = s.round_upto;
  s.round.clear();
  s.round_pos = 0;
  s.round_active = false;
  return false;
}

void ProfileStore::Checkpoint(EventSeq upto, store::WriteBatch* batch) {
  const size_t all = std::numeric_limits<size_t>::max();
  if (CheckpointStep(upto, all, batch)) return;  // not reached: `all` finishes a round
  // A round that was running finished at its own watermark; atoms changed
  // since then go in one more round at `upto`.
  CheckpointStep(upto, all, batch);
}

size_t ProfileStore::dirty_count() const {
  const State& s = *state_;
  return s.dirty.size() + (s.round.size() - s.round_pos);
}

}  // namespace facet::profiles
