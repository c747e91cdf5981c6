#pragma once
#include <map>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "images/image_store.hpp"
#include "images/language.hpp"

namespace berth::actors {

struct ImageBuilderState {
  std::shared_ptr<images::ImageStore> store;
  std::shared_ptr<const images::LanguageCatalog> catalog;
  // Callers waiting for a build in flight, by language: two jobs asking for a missing image at
  // once cause one build.
  std::map<std::string, std::vector<caf::response_promise>> waiting;
  static inline const char* name = "image_builder";
};

// Finds or builds the content-addressed image of a language (see atoms.hpp). Builds run on a
// thread of their own: mmdebstrap takes about a minute and must not hold a scheduler thread.
caf::behavior image_builder(caf::stateful_actor<ImageBuilderState>* self,
                            std::shared_ptr<images::ImageStore> store,
                            std::shared_ptr<const images::LanguageCatalog> catalog);

}  // namespace berth::actors
