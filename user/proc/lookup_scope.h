// The dynamic linker's symbol lookup scopes, rebuilt from what a live process shows (its link
// map and each object's DT_NEEDED): which objects glibc searches, in which order, when it
// resolves a reference from a given object. Pure logic, so each rule is tested on its own.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ut::proc {

struct ScopeObject {
  std::string name;    // l_name: how the dynamic linker loaded it ("" for the executable)
  std::string soname;  // DT_SONAME, "" if none
  std::vector<std::string> needed;  // DT_NEEDED, in order
};

class LookupScopes {
 public:
  // `objects`: the link map, the executable first, in load order. `preload`: the entries of
  // LD_PRELOAD, then of /etc/ld.so.preload, as written.
  LookupScopes(const std::vector<ScopeObject>& objects, const std::vector<std::string>& preload);

  // The global scope: the executable, the preloaded objects, then their DT_NEEDED breadth-first
  // (glibc's main search list: a preload's dependencies come after the executable's own).
  const std::vector<size_t>& global() const { return global_; }
  // An object outside the global scope got there by dlopen (or is the vDSO).
  bool loaded_by_dlopen(size_t object) const { return !in_global_.at(object); }
  // What a reference from `object` searches, in order, each object once: the global scope; for
  // an object loaded by dlopen, then the search list (DT_NEEDED breadth-first) of every
  // dlopen'ed object whose dependencies include it, in load order. Assumes RTLD_LOCAL without
  // RTLD_DEEPBIND: the link map does not say how an object was opened.
  std::vector<size_t> scope_of(size_t object) const;

 private:
  std::vector<size_t> global_;
  std::vector<bool> in_global_;
  std::vector<std::vector<size_t>> dlopen_lists_;  // one per dlopen'ed root, in load order
};

}  // namespace ut::proc
