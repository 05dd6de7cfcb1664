// export_command.cpp - `hardenctl export [--output FILE]`: the whole policy as YAML.
//
// The output has no timestamp: exporting the same policy twice gives the
// same bytes, so it diffs cleanly in version control, and `import policy`
// reads it back to the same rules. --output writes atomically.
#include <fmt/format.h>

#include <iostream>

#include "commands.hpp"
#include "harden/db/policy_yaml.hpp"
#include "output.hpp"

namespace harden::cli {
namespace {

constexpr std::string_view kOrigin = "hardenctl export";

struct ExportOptions {
  std::string output;
};

int run_export(const Globals& g, const ExportOptions& o) {
  const db::Store store = open_store(g, Access::read);
  const std::vector<policy::Rule> rules = store.rules();
  const std::string yaml = db::export_policy_yaml(rules, kOrigin);
  if (o.output.empty() || o.output == "-") {
    std::cout << yaml;
    return kExitOk;
  }
  write_output_file(o.output, yaml);
  std::cout << fmt::format("exported {} rules to {}\n", rules.size(), printable(o.output));
  return kExitOk;
}

struct BackupOptions {
  std::string file;
};

int run_backup(const Globals& g, const BackupOptions& o) {
  const db::Store store = open_store(g, Access::read);
  store.backup(o.file);
  std::cout << fmt::format("backed up {} to {}\n", printable(store.path().string()),
                           printable(o.file));
  return kExitOk;
}

}  // namespace

void add_export_command(CLI::App& app, Dispatch& d) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* sub = add_command(app, "export", "print the whole policy as YAML", R"(
The YAML holds every rule (expired ones too) and no timestamp; read it back with
"hardenctl import policy FILE".

Examples:
  hardenctl export > policy.yaml
  hardenctl export --output /etc/milter-harden/policy.yaml)");
  sub->add_option("-o,--output", o->output, "write to FILE (atomically) instead of standard output")
      ->type_name("FILE");
  on_run(sub, d, o, run_export);

  auto b = std::make_shared<BackupOptions>();
  CLI::App* bs = add_command(app, "backup", "write a consistent copy of the store", R"(
Copies the store with SQLite's online backup API, safe while milter-harden and
other writers run. FILE is replaced atomically (a temporary file beside it is
synced, then renamed), and the copy is one file with no -wal to carry along.

To push one policy to several hosts: back up, copy the file next to the store
on each host, and rename it over the store there; the daemon reads the new
file within reload_interval.

Examples:
  hardenctl backup /tmp/policy.db
  scp /tmp/policy.db mx2:/var/lib/milter-harden/policy.db.new
  ssh mx2 mv /var/lib/milter-harden/policy.db.new /var/lib/milter-harden/policy.db)");
  bs->add_option("FILE", b->file, "where to write the copy")->required()->type_name("FILE");
  on_run(bs, d, b, run_backup);
}

}  // namespace harden::cli
