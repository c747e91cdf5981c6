#include "actors/image_builder.hpp"

#include <spdlog/spdlog.h>

#include <thread>

#include "actors/atoms.hpp"

namespace berth::actors {

using Reply = caf::result<bool, std::string, std::string, std::string>;

caf::behavior image_builder(caf::stateful_actor<ImageBuilderState>* self,
                            std::shared_ptr<images::ImageStore> store,
                            std::shared_ptr<const images::LanguageCatalog> catalog) {
  self->state.store = std::move(store);
  self->state.catalog = std::move(catalog);
  return {
      [=](image_atom, const std::string& language) -> Reply {
        auto* lang = self->state.catalog->find(language);
        if (!lang)
          return Reply(false, "unknown language '" + language + "'", std::string(), std::string());
        if (auto img = self->state.store->find(*lang))
          return Reply(true, img->key, img->rootfs.string(), img->initramfs.string());
        auto& waiters = self->state.waiting[language];
        auto promise = self->make_response_promise();
        waiters.push_back(promise);
        if (waiters.size() == 1) {
          spdlog::info("image {}: not built yet, building it", language);
          auto me = caf::actor_cast<caf::actor>(self);
          std::thread([me, store = self->state.store, l = *lang] {
            auto img = store->ensure(l);
            if (img)
              caf::anon_send(me, built_atom::value, l.name, true, img->key, img->rootfs.string(),
                             img->initramfs.string());
            else
              caf::anon_send(me, built_atom::value, l.name, false, img.error(), std::string(),
                             std::string());
          }).detach();
        }
        return promise;
      },
      [=](built_atom, const std::string& language, bool ok, const std::string& key_or_error,
          const std::string& rootfs, const std::string& initramfs) {
        if (ok)
          spdlog::info("image {}: built, key {}", language, key_or_error);
        else
          spdlog::error("image {}: {}", language, key_or_error);
        auto waiters = std::move(self->state.waiting[language]);
        self->state.waiting.erase(language);
        for (auto& p : waiters) p.deliver(ok, key_or_error, rootfs, initramfs);
      },
  };
}

}  // namespace berth::actors
