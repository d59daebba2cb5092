// The `facet` binary: serve, import, demo, tags.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "app/config.h"
#include "app/serve.h"
#include "app/tags_command.h"
#include "base/status.h"
#include "base/time_format.h"
#include "demo/demo.h"
#include "importer/importer.h"

namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "facet: %s\n", std::string(s.message()).c_str());
  return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Facet: customer data platform and precision-marketing engine"};
  app.require_subcommand(1);

  // serve
  auto* serve = app.add_subcommand("serve", "Run the HTTP API server");
  std::string config_file;
  std::string data_dir;
  int port = -1;
  int threads = -1;
  int heap_reserve_mb = -1;
  std::string bind;
  std::string log_level;
  std::vector<std::string> write_keys, server_write_keys, admin_keys, pii_keys;
  serve->add_option("--config", config_file, "YAML config file (see docs/configuration.md)")->check(CLI::ExistingFile);
  serve->add_option("--port", port, "TCP port (default 8080; 0 picks a free port)")->check(CLI::Range(0, 65535));
  serve->add_option("--bind", bind, "Address to listen on (default 0.0.0.0)");
  serve->add_option("--data-dir", data_dir, "Data directory (default ./facet-data)");
  serve->add_option("--threads", threads, "HTTP threads (default: all cores)")->check(CLI::Range(0, 256));
  serve
      ->add_option("--heap-reserve-mb", heap_reserve_mb,
                   "Free heap kept faulted in ahead of need (default 256; 0 = off)")
      ->check(CLI::Range(0, 1 << 20));
  serve->add_option("--write-key", write_keys,
                    "Client write key (public, in pages and apps; may only send events; its email and phone "
                    "identifiers are unverified claims that link nobody). Repeatable");
  serve->add_option("--server-write-key", server_write_keys,
                    "Server write key (secret, for back-ends, server-side SDKs and imports; may only send "
                    "events; its identifiers link persons). Repeatable");
  serve->add_option("--admin-key", admin_keys, "Admin key (secret; every other endpoint). Repeatable");
  serve->add_option("--pii-key", pii_keys, "Admin key that may export raw PII (email, phone). Repeatable");
  serve->add_option("--log-level", log_level,
                    "Least level of the server's log on stderr: trace, debug, info (default), warn, error, "
                    "critical or off");

  // import
  auto* import = app.add_subcommand("import", "Stream CSV or NDJSON files into a running server");
  facet::importer::ImportOptions import_options;
  import->add_option("--url", import_options.url, "Server URL")->default_val("http://127.0.0.1:8080");
  import->add_option("--write-key", import_options.write_key, "Server write key (secret)")->required();
  import->add_option("--id-key", import_options.id_key,
                     "Key of the default messageIds (default: the write key); keep it to re-run an import");
  import->add_option("--mapping", import_options.mapping_path, "Mapping file (docs/import-mapping.md)")
      ->required()
      ->check(CLI::ExistingFile);
  import->add_option("--rejects", import_options.reject_path, "Reject file (default <input>.rejects.csv)");
  import->add_option("--batch-size", import_options.batch_size, "Events per request")
      ->default_val(500)
      ->check(CLI::Range(1, 5000));
  import->add_option("--connections", import_options.connections, "Parallel connections")
      ->default_val(2)
      ->check(CLI::Range(1, 64));
  import->add_option("inputs", import_options.inputs, "CSV/NDJSON files, plain or .gz")
      ->required()
      ->check(CLI::ExistingFile);

  // demo
  auto* demo = app.add_subcommand("demo", "Generate a realistic multi-channel demo data set and send it");
  facet::demo::DemoOptions demo_options;
  demo->add_option("--url", demo_options.url, "Server URL")->default_val("http://127.0.0.1:8080");
  demo->add_option("--write-key", demo_options.write_key, "Write key")->required();
  demo->add_option("--persons", demo_options.persons, "Persons to generate (10,000 .. 10,000,000)")
      ->default_val(10000)
      ->check(CLI::Range(1, 100000000));
  demo->add_option("--seed", demo_options.seed, "Random seed")->default_val(42);
  demo->add_option("--days", demo_options.days, "Days of history")->default_val(180)->check(CLI::Range(1, 3650));
  demo->add_option("--connections", demo_options.connections, "Parallel connections")
      ->default_val(4)
      ->check(CLI::Range(1, 64));
  demo->add_option("--batch-size", demo_options.batch_size, "Events per request")
      ->default_val(200)
      ->check(CLI::Range(1, 2000));
  std::string demo_end;
  demo->add_option("--end", demo_end,
                   "End of the generated history, ISO-8601 (default: now); fixes the timestamps too");

  // tags
  auto* tags = app.add_subcommand("tags", "Load or list the tag system (标签体系) of a running server");
  tags->require_subcommand(1);
  facet::app::TagsOptions tags_options;
  std::string pack_file;
  bool dry_run = false;
  auto* tags_load =
      tags->add_subcommand("load", "Create or update every tag of a YAML tag pack (examples/tags/README.md)");
  tags_load->add_option("file", pack_file, "Tag pack (YAML)")->required()->check(CLI::ExistingFile);
  tags_load->add_flag("--dry-run", dry_run, "Only check the file; send nothing");
  auto* tags_list = tags->add_subcommand("list", "Print the server's tag tree with member counts");
  for (auto* sub : {tags_load, tags_list}) {
    sub->add_option("--url", tags_options.url, "Server URL")->default_val("http://127.0.0.1:8080");
    sub->add_option("--key", tags_options.admin_key, "Admin key (default $FACET_ADMIN_KEY)")
        ->envname("FACET_ADMIN_KEY");
  }

  CLI11_PARSE(app, argc, argv);

  if (*serve) {
    facet::app::Config config;
    if (!config_file.empty()) {
      if (auto s = facet::app::LoadConfigFile(config_file, &config); !s.ok()) return Fail(s);
    }
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (port >= 0) config.server.port = static_cast<uint16_t>(port);
    if (threads >= 0) config.server.threads = threads;
    if (heap_reserve_mb >= 0) config.heap_reserve_mb = static_cast<size_t>(heap_reserve_mb);
    if (!bind.empty()) config.server.bind_address = bind;
    if (!log_level.empty()) {
      auto level = facet::log::ParseLevel(log_level);
      if (!level.ok()) return Fail(facet::Annotate(level.status(), "--log-level"));
      config.log_level = *level;
    }
    for (auto& k : write_keys) config.server.write_keys.push_back(k);
    for (auto& k : server_write_keys) config.server.server_write_keys.push_back(k);
    for (auto& k : admin_keys) config.server.admin_keys.push_back(k);
    for (auto& k : pii_keys) config.server.pii_keys.push_back(k);
    if (auto s = facet::app::Serve(std::move(config)); !s.ok()) return Fail(s);
    return 0;
  }
  if (*import) {
    auto summary = facet::importer::RunImport(import_options);
    if (!summary.ok()) return Fail(summary.status());
    return summary->rows_rejected == 0 ? 0 : 3;
  }
  if (*demo) {
    if (!demo_end.empty()) {
      auto end = facet::ParseIso8601(demo_end);
      if (!end.ok()) return Fail(facet::Annotate(end.status(), "--end"));
      demo_options.end_ms = *end;
    }
    auto summary = facet::demo::RunDemo(demo_options);
    if (!summary.ok()) return Fail(summary.status());
    return 0;
  }
  if (*tags_load) {
    auto pack = facet::app::ReadTagPack(pack_file);
    if (!pack.ok()) return Fail(pack.status());
    if (dry_run) {
      std::printf("%s: %zu tags OK (dry run; nothing sent)\n", pack_file.c_str(), pack->tags.size());
      return 0;
    }
    if (tags_options.admin_key.empty()) return Fail(absl::InvalidArgumentError("tags load needs --key (an admin key)"));
    auto summary = facet::app::LoadTagPack(*pack, tags_options, stderr);
    if (!summary.ok()) return Fail(summary.status());
    std::printf("loaded %zu tags, %zu failed\n", summary->loaded, summary->failed);
    return summary->failed == 0 ? 0 : 3;
  }
  if (*tags_list) {
    if (tags_options.admin_key.empty()) return Fail(absl::InvalidArgumentError("tags list needs --key (an admin key)"));
    if (auto s = facet::app::ListServerTags(tags_options, stdout); !s.ok()) return Fail(s);
    return 0;
  }
  return 0;
}
