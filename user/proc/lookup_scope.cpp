#include "proc/lookup_scope.h"

#include <algorithm>
#include <optional>
#include <string_view>

namespace ut::proc {

namespace {

std::string_view basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The loaded object a DT_NEEDED or preload entry names, as glibc matches names to loaded
// objects: by the name it was loaded under, its file name, or its SONAME.
std::optional<size_t> find_loaded(const std::vector<ScopeObject>& objects, std::string_view entry) {
  for (size_t i = 1; i < objects.size(); ++i) {
    const auto& o = objects[i];
    if (o.name == entry || o.soname == entry ||
        (!o.name.empty() && basename_of(o.name) == basename_of(entry)))
      return i;
  }
  return std::nullopt;
}

// Breadth-first over DT_NEEDED from `start`, each object once: glibc's _dl_map_object_deps.
std::vector<size_t> search_list(const std::vector<ScopeObject>& objects, std::vector<size_t> start) {
  std::vector<bool> listed(objects.size());
  std::vector<size_t> list;
  for (size_t i : start)
    if (!listed[i]) {
      listed[i] = true;
      list.push_back(i);
    }
  for (size_t at = 0; at < list.size(); ++at)
    for (const auto& needed : objects[list[at]].needed)
      if (auto dependency = find_loaded(objects, needed); dependency && !listed[*dependency]) {
        listed[*dependency] = true;
        list.push_back(*dependency);
      }
  return list;
}

}  // namespace

LookupScopes::LookupScopes(const std::vector<ScopeObject>& objects,
                           const std::vector<std::string>& preload)
    : in_global_(objects.size()) {
  if (objects.empty()) return;
  std::vector<size_t> start{0};
  for (const auto& entry : preload)
    if (auto object = find_loaded(objects, entry)) start.push_back(*object);
  global_ = search_list(objects, start);
  for (size_t i : global_) in_global_[i] = true;
  // Each object outside the global scope and not a dependency of an earlier dlopen is the root
  // of a dlopen: its search list is the local scope of everything that dlopen loaded.
  std::vector<bool> covered = in_global_;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (covered[i]) continue;
    dlopen_lists_.push_back(search_list(objects, {i}));
    for (size_t j : dlopen_lists_.back()) covered[j] = true;
  }
}

std::vector<size_t> LookupScopes::scope_of(size_t object) const {
  std::vector<size_t> scope = global_;
  // glibc extends the scope of dlopen'ed objects only, never of those loaded at start-up.
  if (in_global_.at(object)) return scope;
  for (const auto& list : dlopen_lists_) {
    if (std::find(list.begin(), list.end(), object) == list.end()) continue;
    for (size_t i : list)
      if (std::find(scope.begin(), scope.end(), i) == scope.end()) scope.push_back(i);
  }
  return scope;
}

}  // namespace ut::proc
