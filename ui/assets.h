// The UI's static files (ui/web/), embedded at build time (ui/embed_assets.cmake generates
// ui_assets.cc). Nothing is read from disk or fetched at run time.
#pragma once

#include <string_view>

namespace twin::ui {

struct Asset {
  std::string_view path;          // "/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
};

// The asset served at exactly this path ("/" is index.html), or nullptr.
const Asset* FindAsset(std::string_view path);

}  // namespace twin::ui
