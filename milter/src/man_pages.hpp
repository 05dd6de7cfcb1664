// man_pages.hpp - milter-harden(8) and milter-harden.yaml(5), written from
// the daemon's CLI11 app (its --help) and the config key table (its
// --print-config and --print-config-table). `milter-harden --man 8|5`
// prints them; the build installs what it prints.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace harden::milter {

// milter-harden(8): synopsis and options from `app`, defaults from the key table.
std::string daemon_man_page(const CLI::App& app);
// milter-harden.yaml(5): every key of config_keys() with type, default, bounds, doc.
std::string config_man_page();

}  // namespace harden::milter
