// sparkbench: the command-line entry point. Subcommands live in harness/cmd_*.cc.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "common/build_info.h"
#include "engine/core/error.h"
#include "engine/core/omp_env.h"
#include "harness/commands.h"
#include "harness/mpi_comm.h"

int main(int argc, char** argv) {
  sb::bound_openmp_spinning(argv);
  CLI::App app{"sparkbench: benchmark and evaluate transformer decoders (GGUF) on interchangeable backends"};
  app.set_version_flag("--version", std::string("sparkbench ") + SPARKBENCH_VERSION + " (" + sb::build_commit() + ")\n" +
                                        "scale-out: " + sb::cli::mpi::describe_build());
  app.require_subcommand(1);
  sb::cli::add_model_command(app);
  sb::cli::add_tokenize_command(app);
  sb::cli::add_generate_command(app);
  sb::cli::add_logits_command(app);
  sb::cli::add_perplexity_command(app);
  sb::cli::add_score_code_command(app);
  sb::cli::add_run_command(app);
  sb::cli::add_bench_command(app);
  sb::cli::add_ingest_command(app);
  sb::cli::add_report_command(app);
  sb::cli::add_compare_command(app);
  sb::cli::add_history_command(app);
  sb::cli::add_serve_command(app);
  sb::cli::add_loadgen_command(app);
  sb::cli::add_decontam_command(app);
  sb::cli::add_merge_command(app);
  sb::cli::add_distill_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    // compare and history document exit status 2 for every error, bad options included.
    for (const auto* sub : app.get_subcommands())
      if (rc != 0 && (sub->get_name() == "compare" || sub->get_name() == "history")) return 2;
    return rc;
  } catch (const sb::cli::ExitCode& e) {
    return e.code;
  } catch (const sb::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: internal: %s\n", e.what());
    return 1;
  }
  return 0;
}
