// man_page.hpp - hardenctl(8), written from hardenctl's CLI11 app (every
// command, its usage, options and --help footer) and the policy attribute
// table. `hardenctl --man` prints it; the build installs what it prints.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace harden::cli {

std::string man_page(const CLI::App& app);

}  // namespace harden::cli
